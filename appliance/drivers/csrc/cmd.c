/*
 * cmd.c - the public media and signalling commands.
 *
 * Each command validates what can be validated in the controlling thread
 * (channel index, kind, arguments), copies its arguments into a vb_cmd_t
 * and queues it; the media thread applies it at the start of the next tick
 * (vb_cmd_apply).  Later outcomes are events.
 */
#include "vb_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define VB_PATH_MAX 4096

static int chk_chan(vb_board_t *b, int chan)
{
    if (b == NULL)
        return -VB_EINVAL;
    if (chan < 0 || chan >= b->ctl_nchan)
        return -VB_ECHAN;
    return 0;
}

static int chk_kind(vb_board_t *b, int chan, int kind)
{
    int rc;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    if (b->ctl_kind[chan] != kind)
        return -VB_EKIND;
    return 0;
}

/* Copy a DTMF digit string, upper-casing a-d; NULL if invalid. */
static char *copy_digits(const char *s, int max)
{
    size_t n;
    size_t i;
    char *d;

    if (s == NULL || (n = strlen(s)) == 0 || n > (size_t) max)
        return NULL;
    if ((d = malloc(n + 1)) == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        char c = (char) toupper((unsigned char) s[i]);

        if (!((c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D'))) {
            free(d);
            return NULL;
        }
        d[i] = c;
    }
    d[n] = '\0';
    return d;
}

static int simple(vb_board_t *b, int op, int chan, int a0, int a1)
{
    vb_cmd_t *c = vb_cmd_new(op, chan);

    if (c == NULL)
        return -VB_ESYS;
    c->a[0] = a0;
    c->a[1] = a1;
    return vb_cmd_queue(b, c);
}

static int check_item(const vb_play_item_t *it)
{
    switch (it->type) {
    case VB_ITEM_FILE:
        if (it->path == NULL || it->path[0] == '\0' || strlen(it->path) >= VB_PATH_MAX)
            return -VB_EINVAL;
        return 0;
    case VB_ITEM_TONE:
        if (it->f1 <= 0 || it->f1 >= 4000 || it->f2 < 0 || it->f2 >= 4000)
            return -VB_EINVAL;
        if (it->level_dbm0 < -60 || it->level_dbm0 > 3)
            return -VB_EINVAL;
        if (it->on_ms < 0 || it->off_ms < 0 || it->duration_ms < 0)
            return -VB_EINVAL;
        if (it->off_ms > 0 && it->on_ms == 0)
            return -VB_EINVAL;
        return 0;
    case VB_ITEM_DTMF:
        if (it->on_ms < 0 || it->off_ms < 0 || it->on_ms > 10000 || it->off_ms > 10000)
            return -VB_EINVAL;
        return 0;           /* digits checked when copied */
    case VB_ITEM_SILENCE:
        return it->duration_ms > 0 ? 0 : -VB_EINVAL;
    case VB_ITEM_CPTONE:
        if (it->tone_id < VB_TONE_DIAL || it->tone_id > VB_TONE_CALLWAIT || it->duration_ms < 0)
            return -VB_EINVAL;
        return 0;
    }
    return -VB_EINVAL;
}

int vb_play(vb_board_t *b, int chan, uint32_t tag, const vb_play_item_t *items, int n, int flags)
{
    int rc;
    int i;
    vb_cmd_t *c;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    if (items == NULL || n <= 0 || n > VB_PLAY_MAX_ITEMS || (flags & ~VB_PLAY_BARGE_IN))
        return -VB_EINVAL;
    for (i = 0; i < n; i++) {
        if ((rc = check_item(&items[i])) < 0)
            return rc;
    }
    if ((c = vb_cmd_new(VB_CMD_PLAY, chan)) == NULL)
        return -VB_ESYS;
    c->tag = tag;
    c->a[0] = flags;
    if ((c->items = calloc((size_t) n, sizeof(*c->items))) == NULL) {
        vb_cmd_free(c);
        return -VB_ESYS;
    }
    c->n = n;
    for (i = 0; i < n; i++) {
        c->items[i] = items[i];
        c->items[i].path = NULL;
        c->items[i].digits = NULL;
        if (items[i].type == VB_ITEM_FILE) {
            if ((c->items[i].path = strdup(items[i].path)) == NULL) {
                vb_cmd_free(c);
                return -VB_ESYS;
            }
        } else if (items[i].type == VB_ITEM_DTMF) {
            if ((c->items[i].digits = copy_digits(items[i].digits, VB_DIGITS_MAX)) == NULL) {
                vb_cmd_free(c);
                return -VB_EINVAL;
            }
        }
    }
    return vb_cmd_queue(b, c);
}

int vb_play_stop(vb_board_t *b, int chan)
{
    int rc;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    return simple(b, VB_CMD_PLAY_STOP, chan, 0, 0);
}

int vb_send_dtmf(vb_board_t *b, int chan, uint32_t tag, const char *digits, int on_ms, int off_ms)
{
    int rc;
    vb_cmd_t *c;
    char *d;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    if (on_ms < 0 || off_ms < 0 || on_ms > 10000 || off_ms > 10000)
        return -VB_EINVAL;
    if ((d = copy_digits(digits, VB_DIGITS_MAX)) == NULL)
        return -VB_EINVAL;
    if ((c = vb_cmd_new(VB_CMD_SEND_DTMF, chan)) == NULL) {
        free(d);
        return -VB_ESYS;
    }
    c->tag = tag;
    c->s1 = d;
    c->a[0] = on_ms;
    c->a[1] = off_ms;
    return vb_cmd_queue(b, c);
}

int vb_record_start(vb_board_t *b, int chan, uint32_t tag, const char *path,
                    int max_ms, int silence_ms, int flags)
{
    int rc;
    vb_cmd_t *c;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    if (path == NULL || path[0] == '\0' || strlen(path) >= VB_PATH_MAX)
        return -VB_EINVAL;
    if (max_ms < 0 || silence_ms < 0
        || (flags & ~(VB_REC_STOP_ON_DTMF | VB_REC_ANY_DIGIT | VB_REC_RX_ONLY)))
        return -VB_EINVAL;
    if ((c = vb_cmd_new(VB_CMD_RECORD, chan)) == NULL)
        return -VB_ESYS;
    if ((c->s1 = strdup(path)) == NULL) {
        vb_cmd_free(c);
        return -VB_ESYS;
    }
    c->tag = tag;
    c->a[0] = max_ms;
    c->a[1] = silence_ms;
    c->a[2] = flags;
    return vb_cmd_queue(b, c);
}

int vb_record_stop(vb_board_t *b, int chan)
{
    int rc;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    return simple(b, VB_CMD_RECORD_STOP, chan, 0, 0);
}

int vb_connect(vb_board_t *b, int a, int c)
{
    int rc;

    if ((rc = chk_chan(b, a)) < 0 || (rc = chk_chan(b, c)) < 0)
        return rc;
    if (a == c)
        return -VB_EINVAL;
    return simple(b, VB_CMD_CONNECT, a, c, 0);
}

int vb_listen(vb_board_t *b, int listener, int target)
{
    int rc;

    if ((rc = chk_chan(b, listener)) < 0 || (rc = chk_chan(b, target)) < 0)
        return rc;
    if (listener == target)
        return -VB_EINVAL;
    return simple(b, VB_CMD_LISTEN, listener, target, 0);
}

int vb_disconnect(vb_board_t *b, int chan)
{
    int rc;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    return simple(b, VB_CMD_DISCONNECT, chan, 0, 0);
}

int vb_conf_join(vb_board_t *b, int conf, int chan, int flags, int whisper_to)
{
    int rc;
    vb_cmd_t *c;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    if (conf < 0 || conf >= VB_MAX_CONFS || (flags & ~(VB_CONF_SPEAK | VB_CONF_LISTEN)))
        return -VB_EINVAL;
    if (whisper_to < -1 || whisper_to >= b->ctl_nchan || whisper_to == chan)
        return -VB_EINVAL;
    if (b->ctl_conf[chan] != conf && b->ctl_conf_count[conf] >= VB_MAX_CONF_MEMBERS)
        return -VB_EFULL;
    if ((c = vb_cmd_new(VB_CMD_CONF_JOIN, chan)) == NULL)
        return -VB_ESYS;
    c->a[0] = conf;
    c->a[1] = flags;
    c->a[2] = whisper_to;
    if ((rc = vb_cmd_queue(b, c)) < 0)
        return rc;
    if (b->ctl_conf[chan] != conf) {
        if (b->ctl_conf[chan] >= 0)
            b->ctl_conf_count[b->ctl_conf[chan]]--;
        b->ctl_conf[chan] = conf;
        b->ctl_conf_count[conf]++;
    }
    return 0;
}

int vb_conf_leave(vb_board_t *b, int chan)
{
    int rc;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    if ((rc = simple(b, VB_CMD_CONF_LEAVE, chan, 0, 0)) < 0)
        return rc;
    if (b->ctl_conf[chan] >= 0) {
        b->ctl_conf_count[b->ctl_conf[chan]]--;
        b->ctl_conf[chan] = -1;
    }
    return 0;
}

int vb_detect_cptones(vb_board_t *b, int chan, int on)
{
    int rc;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    return simple(b, VB_CMD_CPT, chan, on ? 1 : 0, 0);
}

int vb_detect_tone(vb_board_t *b, int chan, int slot, int freq_hz, int min_ms)
{
    int rc;
    vb_cmd_t *c;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    if (slot < 0 || slot >= VB_MAX_TONE_DET || min_ms < 0 || min_ms > 60000)
        return -VB_EINVAL;
    if (freq_hz != 0 && (freq_hz < 50 || freq_hz > 3900))
        return -VB_EINVAL;
    if ((c = vb_cmd_new(VB_CMD_TONEDET, chan)) == NULL)
        return -VB_ESYS;
    c->a[0] = slot;
    c->a[1] = freq_hz;
    c->a[2] = min_ms;
    return vb_cmd_queue(b, c);
}

int vb_chan_reset(vb_board_t *b, int chan)
{
    int rc;

    if ((rc = chk_chan(b, chan)) < 0)
        return rc;
    return simple(b, VB_CMD_RESET, chan, 0, 0);
}

int vb_hook(vb_board_t *b, int chan, int offhook)
{
    int rc;

    if ((rc = chk_kind(b, chan, VB_KIND_FXO)) < 0)
        return rc;
    return simple(b, VB_CMD_HOOK, chan, offhook ? 1 : 0, 0);
}

int vb_flash(vb_board_t *b, int chan, int ms)
{
    int rc;

    if ((rc = chk_kind(b, chan, VB_KIND_FXO)) < 0)
        return rc;
    if (ms == 0)
        ms = 300;
    if (ms < 20 || ms > 5000)
        return -VB_EINVAL;
    return simple(b, VB_CMD_FLASH, chan, ms, 0);
}

int vb_ring(vb_board_t *b, int chan, int on_ms, int off_ms,
            const char *cid_number, const char *cid_name, int cid_format)
{
    int rc;
    size_t i;
    vb_cmd_t *c;

    if ((rc = chk_kind(b, chan, VB_KIND_FXS)) < 0)
        return rc;
    if (on_ms < 0 || off_ms < 0 || on_ms > 60000 || off_ms > 60000)
        return -VB_EINVAL;
    if (on_ms == 0 && off_ms == 0) {
        on_ms = 1000;
        off_ms = 4000;
    } else if (on_ms < 20) {
        return -VB_EINVAL;
    }
    if (cid_format != 0 && cid_format != VB_CID_FSK && cid_format != VB_CID_DTMF)
        return -VB_EINVAL;
    if (cid_number) {
        /* digits, '*' and (FSK only: it would end a DTMF message) '#' */
        if (strlen(cid_number) > VB_CID_NUMBER_MAX)
            return -VB_EINVAL;
        for (i = 0; cid_number[i]; i++) {
            char d = cid_number[i];

            if (!((d >= '0' && d <= '9') || d == '*' || (d == '#' && cid_format != VB_CID_DTMF)))
                return -VB_EINVAL;
        }
    }
    if (cid_name && (strlen(cid_name) > VB_CID_NAME_MAX || strchr(cid_name, '\t')))
        return -VB_EINVAL;
    if ((c = vb_cmd_new(VB_CMD_RING, chan)) == NULL)
        return -VB_ESYS;
    c->a[0] = on_ms;
    c->a[1] = off_ms;
    c->a[2] = cid_format ? cid_format : VB_CID_FSK;
    c->s1 = strdup(cid_number ? cid_number : "");
    c->s2 = strdup(cid_name ? cid_name : "");
    if (c->s1 == NULL || c->s2 == NULL) {
        vb_cmd_free(c);
        return -VB_ESYS;
    }
    return vb_cmd_queue(b, c);
}

int vb_ring_stop(vb_board_t *b, int chan)
{
    int rc;

    if ((rc = chk_kind(b, chan, VB_KIND_FXS)) < 0)
        return rc;
    return simple(b, VB_CMD_RING_STOP, chan, 0, 0);
}

int vb_polarity(vb_board_t *b, int chan, int reversed)
{
    int rc;

    if ((rc = chk_kind(b, chan, VB_KIND_FXS)) < 0)
        return rc;
    return simple(b, VB_CMD_POLARITY, chan, reversed ? 1 : 0, 0);
}

int vb_battery(vb_board_t *b, int chan, int on)
{
    int rc;

    if ((rc = chk_kind(b, chan, VB_KIND_FXS)) < 0)
        return rc;
    return simple(b, VB_CMD_BATTERY, chan, on ? 1 : 0, 0);
}

int vb_cas_tx(vb_board_t *b, int chan, int abcd)
{
    int rc;

    if ((rc = chk_kind(b, chan, VB_KIND_E1)) < 0)
        return rc;
    if (abcd < 0 || abcd > 15)
        return -VB_EINVAL;
    return simple(b, VB_CMD_CAS, chan, abcd, 0);
}

int vb_e1_inject(vb_board_t *b, int chan, int flags)
{
    int rc;

    if ((rc = chk_kind(b, chan, VB_KIND_E1)) < 0)
        return rc;
    if (flags & ~(VB_E1_INJECT_LOS | VB_E1_INJECT_AIS | VB_E1_INJECT_RAI))
        return -VB_EINVAL;
    return simple(b, VB_CMD_E1_INJECT, chan, flags, 0);
}

/* ---- media thread side ----------------------------------------------------- */

void vb_cmd_apply(vb_board_t *b, vb_cmd_t *c)
{
    vb_chan_t *ch = NULL;
    int i;

    if (c->op == VB_CMD_ADD_CHANNELS) {
        if (c->a[0] > b->nchan)
            b->nchan = c->a[0];
        return;
    }
    if (c->op == VB_CMD_LINK_ADD) {
        if (b->nlinks < VB_MAX_LINKS) {
            b->links[b->nlinks++] = c->ptr;
            vb_link_attach(c->ptr);
        } else {
            vb_link_free(c->ptr);
        }
        c->ptr = NULL;
        return;
    }
    if (c->chan < 0 || c->chan >= b->nchan)
        return;
    ch = b->chans[c->chan];
    switch (c->op) {
    case VB_CMD_PLAY:
        vb_chplay_start(ch, c->tag, c->items, c->n, c->a[0]);
        /* the strings now belong to the play */
        for (i = 0; i < c->n; i++) {
            c->items[i].path = NULL;
            c->items[i].digits = NULL;
        }
        break;
    case VB_CMD_PLAY_STOP:
        vb_chplay_stop(ch, VB_PLAY_STOPPED, 0);
        break;
    case VB_CMD_SEND_DTMF:
        vb_dsend_start(ch, c->tag, c->s1, c->a[0], c->a[1]);
        break;
    case VB_CMD_RECORD:
        vb_chrec_start(ch, c->tag, c->s1, c->a[0], c->a[1], c->a[2]);
        break;
    case VB_CMD_RECORD_STOP:
        vb_chrec_stop(ch, VB_REC_STOPPED, NULL);
        break;
    case VB_CMD_CONNECT:
        if (c->a[0] < b->nchan)
            vb_sw_connect(b, c->chan, c->a[0]);
        break;
    case VB_CMD_LISTEN:
        if (c->a[0] < b->nchan)
            vb_sw_listen(b, c->chan, c->a[0]);
        break;
    case VB_CMD_DISCONNECT:
        vb_sw_disconnect(b, c->chan);
        break;
    case VB_CMD_CONF_JOIN:
        if (vb_sw_conf_join(b, c->a[0], c->chan, c->a[1], c->a[2]) < 0)
            vb_emitf(b, VB_EV_CMD_ERROR, c->chan, 0, VB_EFULL, 0, "conference %d is full", c->a[0]);
        break;
    case VB_CMD_CONF_LEAVE:
        vb_sw_conf_leave(b, c->chan);
        break;
    case VB_CMD_CPT:
        if (vb_chan_set_cpt(ch, c->a[0]) < 0)
            vb_emit(b, VB_EV_CMD_ERROR, c->chan, 0, VB_ESYS, 0, "cannot start the call-progress detector");
        break;
    case VB_CMD_TONEDET:
        vb_chan_set_tonedet(ch, c->a[0], c->a[1], c->a[2]);
        break;
    case VB_CMD_RESET:
        vb_chplay_stop(ch, VB_PLAY_STOPPED, 0);
        vb_dsend_stop(ch, 1);
        vb_chrec_stop(ch, VB_REC_STOPPED, NULL);
        break;
    case VB_CMD_HOOK:
        vb_line_hook(ch, c->a[0]);
        break;
    case VB_CMD_FLASH:
        vb_line_flash(ch, c->a[0]);
        break;
    case VB_CMD_RING:
        vb_line_ring(ch, c->a[0], c->a[1], c->s1, c->s2, c->a[2]);
        break;
    case VB_CMD_RING_STOP:
        vb_line_ring_stop(ch);
        break;
    case VB_CMD_POLARITY:
        ch->line.polarity = c->a[0];
        break;
    case VB_CMD_BATTERY:
        ch->line.battery = c->a[0];
        break;
    case VB_CMD_CAS:
        ch->line.cas_tx = c->a[0];
        break;
    case VB_CMD_LINK_CUT:
        ch->cut = c->a[0];
        break;
    case VB_CMD_E1_INJECT:
        ch->e1_inject = c->a[0];
        break;
    }
}
