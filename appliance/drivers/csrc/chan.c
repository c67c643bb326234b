/*
 * chan.c - a channel: creation, the receive side of the tick (phase 1) and
 * the detectors: DTMF (always on), single tones (Goertzel), call progress
 * (super_tone_rx).
 */
#include "vb_internal.h"

#include <stdlib.h>
#include <string.h>

/* -40 dBm0 as mean square of 16-bit samples: 0 dBm0 sine rms = 32767/sqrt(2)*10^(-3.14/20) */
#define VB_TONE_MIN_MS2     26000.0f
#define VB_TONE_RATIO       0.35f      /* tone power / frame power (1.0 = pure tone) */
#define VB_TONE_OFF_FRAMES  2
/* Below -50 dBm0 (mean square) a frame can hold neither DTMF nor caller ID: after a few such
   frames (so a digit in progress sees its end) those receivers rest. */
#define VB_GATE_MS2         2600
#define VB_GATE_HANGOVER    4

static void dtmf_digits_cb(void *user, const char *digits, int len)
{
    vb_chan_t *ch = user;
    int i;

    for (i = 0; i < len; i++) {
        if (ch->digit == 0)
            ch->digit = digits[i];
        /* an on-hook FXO line hears caller-ID digits: those are not DTMF input */
        if (ch->kind == VB_KIND_FXO && !ch->line.hook)
            continue;
        vb_emit(ch->b, VB_EV_DTMF, ch->idx, 0, digits[i], 0, NULL);
    }
}

static void cpt_report_cb(void *user, int code, int level, int delay)
{
    vb_chan_t *ch = user;
    int id = (code >= 0 && code < 8) ? vb_cpt_tone_ids[code] : 0;

    (void) level;
    (void) delay;
    if (id == ch->cpt_tone)
        return;
    if (ch->cpt_tone)
        vb_emit(ch->b, VB_EV_TONE, ch->idx, 0, ch->cpt_tone, 0, NULL);
    ch->cpt_tone = id;
    if (id)
        vb_emit(ch->b, VB_EV_TONE, ch->idx, 0, id, 1, NULL);
}

vb_chan_t *vb_chan_new(vb_board_t *b, int idx, int kind)
{
    vb_chan_t *ch;

    if ((ch = calloc(1, sizeof(*ch))) == NULL)
        return NULL;
    ch->b = b;
    ch->idx = idx;
    ch->kind = kind;
    ch->e1_alarm = kind == VB_KIND_E1 ? VB_E1_ALARM_RED : 0;   /* no signal until the cable is up */
    ch->connected_to = -1;
    ch->listening_to = -1;
    ch->conf = -1;
    ch->whisper_to = -1;
    ch->tx = ch->base_tx;
    dtmf_rx_init(&ch->dtmf, dtmf_digits_cb, ch);
    vb_line_init(ch);
    if (ch->kind == VB_KIND_FXO && (ch->line.cid_fsk == NULL || ch->line.cid_dtmf == NULL)) {
        vb_chan_free(ch);
        return NULL;
    }
    return ch;
}

void vb_chan_free(vb_chan_t *ch)
{
    if (ch == NULL)
        return;
    if (ch->cpt)
        super_tone_rx_free(ch->cpt);
    vb_line_release(ch);
    free(ch);
}

void vb_chan_set_tonedet(vb_chan_t *ch, int slot, int freq, int min_ms)
{
    vb_tonedet_t *t = &ch->tdet[slot];
    int i;

    if (t->on && t->freq)
        vb_emit(ch->b, VB_EV_TONE, ch->idx, 0, t->freq, 0, NULL);
    memset(t, 0, sizeof(*t));
    if (freq > 0) {
        t->freq = freq;
        t->min_frames = (min_ms + VB_TICK_MS - 1) / VB_TICK_MS;
        if (t->min_frames < 2)
            t->min_frames = 2;
        make_goertzel_descriptor(&t->desc, (float) freq, VB_N);
    }
    ch->tdet_any = 0;
    for (i = 0; i < VB_MAX_TONE_DET; i++)
        ch->tdet_any |= (ch->tdet[i].freq != 0);
}

int vb_chan_set_cpt(vb_chan_t *ch, int on)
{
    if (on && ch->cpt == NULL) {
        ch->cpt = super_tone_rx_init(NULL, vb_cpt_descriptor(NULL, 0), cpt_report_cb, ch);
        if (ch->cpt == NULL)
            return -1;
        ch->cpt_tone = 0;
    } else if (!on && ch->cpt) {
        if (ch->cpt_tone)
            vb_emit(ch->b, VB_EV_TONE, ch->idx, 0, ch->cpt_tone, 0, NULL);
        ch->cpt_tone = 0;
        super_tone_rx_free(ch->cpt);
        ch->cpt = NULL;
    }
    return 0;
}

static int64_t frame_energy(const int16_t *restrict x)
{
    int64_t e = 0;
    int i;

    for (i = 0; i < VB_N; i++)
        e += (int32_t) x[i] * x[i];
    return e;
}

static void run_tonedet(vb_chan_t *ch, int64_t e)
{
    goertzel_state_t gs;
    float energy = (float) e;
    float p;
    int present;
    int i;
    vb_tonedet_t *t;

    for (i = 0; i < VB_MAX_TONE_DET; i++) {
        t = &ch->tdet[i];
        if (t->freq == 0)
            continue;
        present = 0;
        if (energy >= VB_TONE_MIN_MS2 * VB_N) {
            goertzel_init(&gs, &t->desc);
            goertzel_update(&gs, ch->rx, VB_N);
            p = goertzel_result(&gs);
            /* a pure tone gives p = N^2 A^2 / 4 and energy = N A^2 / 2 */
            present = (2.0f * p >= VB_TONE_RATIO * (float) VB_N * energy);
        }
        if (present) {
            t->gap = 0;
            if (t->run < 1000000)
                t->run++;
            if (!t->on && t->run >= t->min_frames) {
                t->on = 1;
                vb_emit(ch->b, VB_EV_TONE, ch->idx, 0, t->freq, 1, NULL);
            }
        } else {
            t->run = 0;
            if (t->on && ++t->gap >= VB_TONE_OFF_FRAMES) {
                t->on = 0;
                vb_emit(ch->b, VB_EV_TONE, ch->idx, 0, t->freq, 0, NULL);
            }
        }
    }
}

static int kinds_pair(int mine, int far)
{
    if (far == 0)
        return 1;
    if (mine == VB_KIND_E1)
        return far == VB_KIND_E1;
    return (mine == VB_KIND_FXO && far == VB_KIND_FXS) || (mine == VB_KIND_FXS && far == VB_KIND_FXO);
}

/* Phase 1: line state, signalling, decode, detectors. */
/* E1: what the framer would report; returns whether the timeslot carries a usable signal.
   RAI is integrated over E1_RAI_TICKS frames, so the far end's RAI of the moment both ends
   come up (it had no signal from us yet) is not a yellow alarm. */
#define E1_RAI_TICKS 5

static int e1_alarms(vb_chan_t *ch, int cable)
{
    int al = 0;

    ch->e1_rai_ticks = (cable && (ch->rx_bits & VB_BIT_RAI)) ? ch->e1_rai_ticks + 1 : 0;
    if (!cable)
        al = VB_E1_ALARM_RED;
    else if (ch->rx_bits & VB_BIT_AIS)
        al = VB_E1_ALARM_BLUE;
    else if (ch->e1_rai_ticks >= E1_RAI_TICKS)
        al = VB_E1_ALARM_YELLOW;
    if (al != ch->e1_alarm) {
        ch->e1_alarm = al;
        vb_emit(ch->b, VB_EV_ALARM, ch->idx, 0, al, 0, NULL);
    }
    return cable && !(al & VB_E1_ALARM_BLUE);
}

void vb_chan_rx(vb_chan_t *ch)
{
    int cable = 0;
    int up;
    int far_kind;
    int i;
    int64_t energy;

    ch->digit = 0;
    if (((ch->link && vb_link_alive(ch->link)) || ch->card) && !ch->cut && (ch->rx_bits & VB_BIT_PRESENT)) {
        far_kind = (ch->rx_bits >> VB_BIT_KIND_SHIFT) & 3;
        cable = kinds_pair(ch->kind, far_kind);
        if (!cable && !ch->kind_warned) {
            ch->kind_warned = 1;
            vb_log(ch->b, ch->idx, 0, "far end kind %d does not pair with kind %d", far_kind, ch->kind);
        }
    }
    if (ch->kind == VB_KIND_E1)
        cable = e1_alarms(ch, cable);
    up = cable;
    if (ch->kind == VB_KIND_FXO)
        up = cable && (ch->rx_bits & VB_BIT_BATTERY);
    if (up != ch->line_up) {
        ch->line_up = up;
        vb_emit(ch->b, VB_EV_LINE, ch->idx, 0, up, 0, NULL);
    }
    vb_line_rx(ch, cable);
    if (!cable) {
        if (ch->rx_active) {
            memset(ch->rx, 0, sizeof(ch->rx));
            ch->rx_active = 0;
        }
        /* let enabled detectors see the silence, so tones end */
        if (ch->tdet_any)
            run_tonedet(ch, 0);
        if (ch->cpt)
            super_tone_rx(ch->cpt, ch->rx, VB_N);
        return;
    }
    ch->rx_active = 1;
    if (ch->rx_src) {
        for (i = 0; i < VB_N; i++)
            ch->rx[i] = vb_alaw_dec[ch->rx_src[i]];
    } else {
        for (i = 0; i < VB_N; i++)
            ch->rx[i] = vb_alaw_dec[VB_ALAW_SILENCE];
    }
    energy = frame_energy(ch->rx);
    if (energy >= (int64_t) VB_GATE_MS2 * VB_N)
        ch->quiet = 0;
    else if (ch->quiet < VB_GATE_HANGOVER)
        ch->quiet++;
    if (ch->quiet < VB_GATE_HANGOVER)
        dtmf_rx(&ch->dtmf, ch->rx, VB_N);
    if (ch->tdet_any)
        run_tonedet(ch, energy);
    if (ch->cpt)
        super_tone_rx(ch->cpt, ch->rx, VB_N);
    if (ch->kind == VB_KIND_FXO && !ch->line.hook && ch->quiet < VB_GATE_HANGOVER)
        vb_line_cid_rx(ch);
}

void vb_chan_status_fill(vb_chan_t *ch, vb_chan_status_t *st)
{
    memset(st, 0, sizeof(*st));
    st->kind = ch->kind;
    st->linked = ch->link != NULL || ch->card;
    st->line_up = ch->line_up;
    st->alarm = ch->e1_alarm;
    st->cas_tx = ch->line.cas_tx;
    st->cas_rx = ch->line.cas_rx;
    switch (ch->kind) {
    case VB_KIND_FXS:
        st->hook = ch->line.phone_offhook;
        st->ringing = ch->line.ring_active;
        st->polarity = ch->line.polarity;
        break;
    case VB_KIND_FXO:
        st->hook = ch->line.hook;
        st->ringing = ch->line.ring_rx;
        st->polarity = ch->line.polarity_rx;
        break;
    }
    st->playing = ch->play.active;
    st->recording = ch->rec.job != NULL;
    st->connected_to = ch->connected_to;
    st->listening_to = ch->listening_to;
    st->conf = ch->conf;
}
