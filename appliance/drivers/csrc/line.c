/*
 * line.c - line signalling carried in the per-line bits word of the cable.
 *
 *   FXS end (station port, or the exchange's line card): sends ring voltage,
 *   polarity and battery; watches the phone's hook (debounce, flash, ring
 *   trip); sends caller ID (DTMF before the first burst, FSK after it).
 *   FXO end (our trunk, or a phone): sends its hook; watches ring, polarity,
 *   battery; receives caller ID while on-hook.
 *   E1: four CAS bits each way.
 */
#include "vb_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING_PRE_GAP_MS     300     /* DTMF caller ID end -> first burst */
#define FSK_CID_DELAY_MS    500     /* first burst end -> FSK caller ID */
#define CID_RESET_IDLE_MS   8000    /* no ring for this long: ring sequence over */

enum { RING_PRE = 0, RING_BURST = 1, RING_PAUSE = 2 };
enum { CID_NONE = 0, CID_WAITING = 1, CID_SENDING = 2, CID_DONE = 3 };

static void cid_put_msg(vb_chan_t *ch, int format, const uint8_t *msg, int len)
{
    char number[VB_CID_NUMBER_MAX + 12];
    char name[VB_CID_NAME_MAX + 12];
    int pos;
    int n;
    int flen;
    int ftype;

    number[0] = name[0] = '\0';
    if (format == VB_CID_DTMF) {
        /* e.g. "A13800138000C": a field letter, digits, terminator */
        pos = 0;
        if (len > 0 && (msg[0] == 'A' || msg[0] == 'D' || msg[0] == 'B'))
            pos = 1;
        for (n = 0; pos < len && ((msg[pos] >= '0' && msg[pos] <= '9') || msg[pos] == '*')
                    && n < (int) sizeof(number) - 1; pos++)
            number[n++] = (char) msg[pos];
        number[n] = '\0';
        if (len > 0 && msg[0] != 'A' && msg[0] >= 'A')
            return;     /* absence / redirection: no caller number */
    } else {
        if (len < 2)
            return;
        if (msg[0] == CLASS_SDMF_CALLERID) {
            /* 8 digits of date/time, then the number */
            if (len > 2 + 8) {
                n = len - 2 - 8;
                if (n > (int) sizeof(number) - 1)
                    n = (int) sizeof(number) - 1;
                memcpy(number, msg + 10, (size_t) n);
                number[n] = '\0';
            }
        } else if (msg[0] == CLASS_MDMF_CALLERID) {
            for (pos = 2; pos + 2 <= len; pos += 2 + flen) {
                ftype = msg[pos];
                flen = msg[pos + 1];
                if (pos + 2 + flen > len)
                    break;
                if (ftype == MCLASS_CALLER_NUMBER) {
                    n = flen < (int) sizeof(number) - 1 ? flen : (int) sizeof(number) - 1;
                    memcpy(number, msg + pos + 2, (size_t) n);
                    number[n] = '\0';
                } else if (ftype == MCLASS_CALLER_NAME) {
                    n = flen < (int) sizeof(name) - 1 ? flen : (int) sizeof(name) - 1;
                    memcpy(name, msg + pos + 2, (size_t) n);
                    name[n] = '\0';
                }
            }
        } else {
            return;     /* message waiting etc. */
        }
    }
    ch->line.cid_seen = 1;
    vb_emitf(ch->b, VB_EV_CALLERID, ch->idx, 0, format, 0, "%s\t%s", number, name);
}

static void cid_fsk_cb(void *user, const uint8_t *msg, int len)
{
    cid_put_msg(user, VB_CID_FSK, msg, len);
}

static void cid_dtmf_cb(void *user, const uint8_t *msg, int len)
{
    cid_put_msg(user, VB_CID_DTMF, msg, len);
}

static void cid_rx_reset(vb_chan_t *ch)
{
    vb_line_t *L = &ch->line;

    if (L->cid_fsk)
        adsi_rx_init(L->cid_fsk, ADSI_STANDARD_CLASS, cid_fsk_cb, ch);
    if (L->cid_dtmf)
        adsi_rx_init(L->cid_dtmf, ADSI_STANDARD_CLIP_DTMF, cid_dtmf_cb, ch);
    L->cid_seen = 0;
}

void vb_line_init(vb_chan_t *ch)
{
    vb_line_t *L = &ch->line;

    memset(L, 0, sizeof(*L));
    L->battery = 1;
    L->cas_tx = VB_CAS_IDLE;
    L->cas_rx = VB_CAS_IDLE;
    L->ring_idle_ms = CID_RESET_IDLE_MS + 1;
    if (ch->kind == VB_KIND_FXO) {
        L->cid_fsk = adsi_rx_init(NULL, ADSI_STANDARD_CLASS, cid_fsk_cb, ch);
        L->cid_dtmf = adsi_rx_init(NULL, ADSI_STANDARD_CLIP_DTMF, cid_dtmf_cb, ch);
    }
}

void vb_line_release(vb_chan_t *ch)
{
    vb_line_t *L = &ch->line;

    if (L->cid_fsk)
        adsi_rx_free(L->cid_fsk);
    if (L->cid_dtmf)
        adsi_rx_free(L->cid_dtmf);
    if (L->cid_tx)
        adsi_tx_free(L->cid_tx);
    L->cid_fsk = L->cid_dtmf = NULL;
    L->cid_tx = NULL;
}

static void ring_halt(vb_line_t *L)
{
    L->ring_active = 0;
    L->ring_bit = 0;
    L->cid_state = CID_NONE;
}

/* Phase 1: what the far end's bits say.  cable: the cable is up. */
void vb_line_rx(vb_chan_t *ch, int cable)
{
    vb_line_t *L = &ch->line;
    uint16_t bits = ch->rx_bits;
    int raw;
    int v;

    switch (ch->kind) {
    case VB_KIND_FXS:
        raw = cable && (bits & VB_BIT_HOOK);
        if (raw) {
            if (!L->phone_offhook) {
                L->phone_offhook = 1;
                L->onhook_ms = 0;
                if (L->ring_active)
                    ring_halt(L);       /* ring trip */
                vb_emit(ch->b, VB_EV_HOOK, ch->idx, 0, 1, 0, NULL);
            } else if (L->onhook_ms > 0) {
                if (L->onhook_ms >= VB_FLASH_MIN_MS)
                    vb_emit(ch->b, VB_EV_FLASH, ch->idx, 0, L->onhook_ms, 0, NULL);
                L->onhook_ms = 0;
            }
        } else if (L->phone_offhook) {
            L->onhook_ms += VB_TICK_MS;
            if (!cable || L->onhook_ms > VB_FLASH_MAX_MS) {
                L->phone_offhook = 0;
                L->onhook_ms = 0;
                vb_emit(ch->b, VB_EV_HOOK, ch->idx, 0, 0, 0, NULL);
            }
        }
        break;
    case VB_KIND_FXO:
        v = cable && (bits & VB_BIT_RING);
        if (v != L->ring_rx) {
            L->ring_rx = v;
            L->ring_idle_ms = 0;
            vb_emit(ch->b, VB_EV_RING, ch->idx, 0, v, 0, NULL);
        }
        if (cable) {
            v = (bits & VB_BIT_POLARITY) ? 1 : 0;
            if (v != L->polarity_rx) {
                L->polarity_rx = v;
                vb_emit(ch->b, VB_EV_POLARITY, ch->idx, 0, v, 0, NULL);
            }
        }
        L->battery_rx = cable && (bits & VB_BIT_BATTERY);
        if (!L->ring_rx && L->ring_idle_ms <= CID_RESET_IDLE_MS) {
            L->ring_idle_ms += VB_TICK_MS;
            if (L->ring_idle_ms > CID_RESET_IDLE_MS && !L->hook)
                cid_rx_reset(ch);       /* the ring sequence is over */
        }
        break;
    case VB_KIND_E1:
        if (cable) {
            v = (bits >> VB_BIT_CAS_SHIFT) & 0xF;
            if (v != L->cas_rx) {
                L->cas_rx = v;
                vb_emit(ch->b, VB_EV_CAS, ch->idx, 0, v, 0, NULL);
            }
        }
        break;
    }
}

void vb_line_cid_rx(vb_chan_t *ch)
{
    vb_line_t *L = &ch->line;

    if (L->cid_fsk)
        adsi_rx(L->cid_fsk, ch->rx, VB_N);
    if (L->cid_dtmf)
        adsi_rx(L->cid_dtmf, ch->rx, VB_N);
}

static void cid_start_sending(vb_chan_t *ch)
{
    vb_line_t *L = &ch->line;
    int std = (L->cid_format == VB_CID_DTMF) ? ADSI_STANDARD_CLIP_DTMF : ADSI_STANDARD_CLASS;

    L->cid_tx = adsi_tx_init(L->cid_tx, std);
    if (L->cid_tx == NULL || adsi_tx_put_message(L->cid_tx, L->cid_msg, L->cid_len) <= 0) {
        vb_log(ch->b, ch->idx, 1, "caller ID could not be sent");
        L->cid_state = CID_DONE;
        return;
    }
    L->cid_state = CID_SENDING;
}

static void cid_send_frame(vb_chan_t *ch, int32_t *acc)
{
    vb_line_t *L = &ch->line;
    int16_t buf[VB_N];
    int k;
    int i;

    k = adsi_tx(L->cid_tx, buf, VB_N);
    for (i = 0; i < k; i++)
        acc[i] += buf[i];
    if (k < VB_N)
        L->cid_state = CID_DONE;
}

/* Phase 2: the ring cadence and the caller-ID audio (FXS). */
void vb_line_tx(vb_chan_t *ch, int32_t *acc)
{
    vb_line_t *L = &ch->line;

    if (ch->kind != VB_KIND_FXS || !L->ring_active)
        return;
    switch (L->ring_state) {
    case RING_PRE:
        if (L->cid_state == CID_SENDING) {
            cid_send_frame(ch, acc);
            L->ring_ms = 0;
        } else if ((L->ring_ms += VB_TICK_MS) >= RING_PRE_GAP_MS) {
            L->ring_state = RING_BURST;
            L->ring_ms = 0;
            L->ring_bit = 1;
            L->ring_bursts++;
        }
        break;
    case RING_BURST:
        /* off_ms 0: one continuous burst */
        if (L->ring_off_ms > 0 && (L->ring_ms += VB_TICK_MS) >= L->ring_on_ms) {
            L->ring_state = RING_PAUSE;
            L->ring_ms = 0;
            L->ring_bit = 0;
            if (L->cid_state == CID_WAITING)
                L->cid_wait_ms = FSK_CID_DELAY_MS;
        }
        break;
    case RING_PAUSE:
        L->ring_ms += VB_TICK_MS;
        if (L->cid_state == CID_WAITING && (L->cid_wait_ms -= VB_TICK_MS) <= 0)
            cid_start_sending(ch);
        if (L->cid_state == CID_SENDING)
            cid_send_frame(ch, acc);
        if (L->ring_ms >= L->ring_off_ms && L->cid_state != CID_SENDING) {
            L->ring_state = RING_BURST;
            L->ring_ms = 0;
            L->ring_bit = 1;
            L->ring_bursts++;
        }
        break;
    }
}

uint16_t vb_line_bits(vb_chan_t *ch)
{
    vb_line_t *L = &ch->line;
    uint16_t bits = (uint16_t) ((ch->kind & 3) << VB_BIT_KIND_SHIFT);

    if (!ch->cut && !(ch->kind == VB_KIND_E1 && (ch->e1_inject & VB_E1_INJECT_LOS)))
        bits |= VB_BIT_PRESENT;
    switch (ch->kind) {
    case VB_KIND_FXS:
        if (L->ring_bit)
            bits |= VB_BIT_RING;
        if (L->polarity)
            bits |= VB_BIT_POLARITY;
        if (L->battery)
            bits |= VB_BIT_BATTERY;
        break;
    case VB_KIND_FXO:
        if (L->flash_ms_left > 0) {
            if ((L->flash_ms_left -= VB_TICK_MS) <= 0)
                L->hook = 1;
        } else if (L->hook) {
            bits |= VB_BIT_HOOK;
        }
        break;
    case VB_KIND_E1:
        bits |= (uint16_t) ((L->cas_tx & 0xF) << VB_BIT_CAS_SHIFT);
        if (ch->e1_inject & VB_E1_INJECT_AIS)
            bits |= VB_BIT_AIS;
        if ((ch->e1_inject & VB_E1_INJECT_RAI) || (ch->e1_alarm & (VB_E1_ALARM_RED | VB_E1_ALARM_BLUE)))
            bits |= VB_BIT_RAI;
        break;
    }
    return bits;
}

void vb_line_hook(vb_chan_t *ch, int offhook)
{
    vb_line_t *L = &ch->line;

    if (offhook && !L->hook)
        cid_rx_reset(ch);
    L->hook = offhook;
    L->flash_ms_left = 0;
}

void vb_line_flash(vb_chan_t *ch, int ms)
{
    vb_line_t *L = &ch->line;

    if (!L->hook || L->flash_ms_left > 0) {
        vb_emit(ch->b, VB_EV_CMD_ERROR, ch->idx, 0, VB_ESTATE, 0, "flash: the line is on-hook");
        return;
    }
    L->flash_ms_left = ms;
}

static int build_fsk_mdmf(vb_line_t *L, const char *num, const char *name)
{
    adsi_tx_state_t *tx;
    char dt[48];
    time_t now = time(NULL);
    struct tm tm;
    int len;

    /* adsi_add_field only needs the standard from the state */
    if ((L->cid_tx = adsi_tx_init(L->cid_tx, ADSI_STANDARD_CLASS)) == NULL)
        return -1;
    tx = L->cid_tx;
    localtime_r(&now, &tm);
    snprintf(dt, sizeof(dt), "%02d%02d%02d%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
    len = adsi_add_field(tx, L->cid_msg, -1, CLASS_MDMF_CALLERID, NULL, 0);
    len = adsi_add_field(tx, L->cid_msg, len, MCLASS_DATETIME, (const uint8_t *) dt, 8);
    len = adsi_add_field(tx, L->cid_msg, len, MCLASS_CALLER_NUMBER, (const uint8_t *) num, (int) strlen(num));
    if (name[0])
        len = adsi_add_field(tx, L->cid_msg, len, MCLASS_CALLER_NAME, (const uint8_t *) name,
                             (int) strlen(name));
    return len;
}

void vb_line_ring(vb_chan_t *ch, int on_ms, int off_ms, const char *num, const char *name, int fmt)
{
    vb_line_t *L = &ch->line;
    int len;

    if (L->phone_offhook) {
        vb_emit(ch->b, VB_EV_CMD_ERROR, ch->idx, 0, VB_ESTATE, 0, "ring: the phone is off-hook");
        return;
    }
    L->ring_active = 1;
    L->ring_on_ms = on_ms;
    L->ring_off_ms = off_ms;
    L->ring_ms = 0;
    L->ring_bursts = 0;
    L->ring_bit = 0;
    L->cid_state = CID_NONE;
    L->cid_format = fmt;
    L->ring_state = RING_BURST;
    if (num && num[0]) {
        if (fmt == VB_CID_DTMF) {
            len = snprintf((char *) L->cid_msg, sizeof(L->cid_msg), "A%sC", num);
            L->cid_len = len;
            cid_start_sending(ch);
            L->ring_state = RING_PRE;
        } else if ((len = build_fsk_mdmf(L, num, name ? name : "")) > 0) {
            L->cid_len = len;
            L->cid_state = CID_WAITING;
        }
    }
    if (L->ring_state == RING_BURST) {
        L->ring_bit = 1;
        L->ring_bursts = 1;
    }
}

void vb_line_ring_stop(vb_chan_t *ch)
{
    ring_halt(&ch->line);
}
