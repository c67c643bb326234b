/*
 * switch.c - the switch matrix: full-duplex connections, listen-only taps
 * and conferences with whisper.  Media thread only.
 *
 *   connect(a, c): a's TX gets c's rx and c's TX gets a's rx.
 *   listen(l, t):  l's TX gets t's rx + t's TX (both parties of t's call).
 *   conference:    member m (with LISTEN) gets the rx of every other member
 *                  s with SPEAK whose whisper_to is -1 or m.
 */
#include "vb_internal.h"

#include <string.h>

static void unconnect(vb_board_t *b, int x)
{
    vb_chan_t *ch = b->chans[x];
    vb_chan_t *peer;

    if (ch->connected_to < 0)
        return;
    peer = b->chans[ch->connected_to];
    if (peer->connected_to == x)
        peer->connected_to = -1;
    ch->connected_to = -1;
}

void vb_sw_connect(vb_board_t *b, int a, int c)
{
    unconnect(b, a);
    unconnect(b, c);
    b->chans[a]->connected_to = c;
    b->chans[c]->connected_to = a;
}

void vb_sw_listen(vb_board_t *b, int l, int t)
{
    b->chans[l]->listening_to = t;
}

void vb_sw_disconnect(vb_board_t *b, int chan)
{
    int i;

    unconnect(b, chan);
    b->chans[chan]->listening_to = -1;
    for (i = 0; i < b->nchan; i++) {
        if (b->chans[i]->listening_to == chan)
            b->chans[i]->listening_to = -1;
    }
}

int vb_sw_conf_join(vb_board_t *b, int conf, int chan, int flags, int whisper_to)
{
    vb_chan_t *ch = b->chans[chan];
    vb_conf_t *cf = &b->confs[conf];

    if (ch->conf >= 0 && ch->conf != conf)
        vb_sw_conf_leave(b, chan);
    if (ch->conf != conf) {
        if (cf->n >= VB_MAX_CONF_MEMBERS)
            return -1;
        cf->members[cf->n++] = chan;
        ch->conf = conf;
    }
    ch->conf_flags = flags;
    ch->whisper_to = whisper_to;
    return 0;
}

void vb_sw_conf_leave(vb_board_t *b, int chan)
{
    vb_chan_t *ch = b->chans[chan];
    vb_conf_t *cf;
    int i;

    if (ch->conf < 0)
        return;
    cf = &b->confs[ch->conf];
    for (i = 0; i < cf->n; i++) {
        if (cf->members[i] == chan) {
            cf->members[i] = cf->members[--cf->n];
            break;
        }
    }
    ch->conf = -1;
    ch->conf_flags = 0;
    ch->whisper_to = -1;
}

void vb_sw_conf_mix(vb_board_t *b)
{
    int c;
    int i;
    vb_conf_t *cf;
    vb_chan_t *m;

    for (c = 0; c < VB_MAX_CONFS; c++) {
        cf = &b->confs[c];
        if (cf->n == 0)
            continue;
        memset(cf->sum, 0, sizeof(cf->sum));
        for (i = 0; i < cf->n; i++) {
            m = b->chans[cf->members[i]];
            if ((m->conf_flags & VB_CONF_SPEAK) && m->whisper_to < 0 && m->rx_active)
                vb_add16(cf->sum, m->rx);
        }
    }
}

void vb_sw_frame(vb_chan_t *ch, int32_t *acc)
{
    vb_board_t *b = ch->b;
    vb_chan_t *o;
    vb_conf_t *cf;
    int i;

    if (ch->connected_to >= 0) {
        o = b->chans[ch->connected_to];
        if (o->rx_active)
            vb_add16(acc, o->rx);
    }
    if (ch->conf >= 0 && (ch->conf_flags & VB_CONF_LISTEN)) {
        cf = &b->confs[ch->conf];
        vb_add32(acc, cf->sum);
        /* not oneself */
        if ((ch->conf_flags & VB_CONF_SPEAK) && ch->whisper_to < 0 && ch->rx_active)
            vb_sub16(acc, ch->rx);
        /* whispers meant for this member */
        for (i = 0; i < cf->n; i++) {
            o = b->chans[cf->members[i]];
            if (o != ch && o->whisper_to == ch->idx && (o->conf_flags & VB_CONF_SPEAK) && o->rx_active)
                vb_add16(acc, o->rx);
        }
    }
}
