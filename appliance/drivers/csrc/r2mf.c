/*
 * r2mf.c - the MF library openr2 1.3.3 uses on our channels (its
 * openr2_mflib_interface_t), built on spandsp's R2 MF generator/detector.
 *
 * Backward (incoming) calls: a plain pass-through; openr2 selects the tones.
 *
 * Forward (outgoing) calls, China: openr2 1.3.3 cannot send ANI.  China uses
 * A1 both for "next DNIS digit" and, after KA was asked with A6, for "next
 * ANI digit"; openr2's handle_group_a_request() tests the DNIS meaning first,
 * so after KA it answers A1 with DNIS digits, or with nothing once they are
 * out (telephony-probe.md, pitfall 3).  So on a forward call with China
 * override on, the compelled cycle's *tone choice* is made here, from the
 * backward signals this library itself detects: A1 next digit (DNIS, or ANI
 * after KA, I-15 at the end of ANI), A2 previous DNIS digit, A6 KA (then ANI),
 * A3 KD (then group B: nothing more from us).  openr2 keeps everything else:
 * CAS, timers, group A/B interpretation (accept, busy, congestion...), call
 * state.  Its own select_tone choices are then ignored.
 *
 * Controlling (hub) thread only, like openr2.
 */
#include "vb_internal.h"
#include "r2.h"

#include <stdlib.h>
#include <string.h>

#include <openr2.h>

struct vb_r2mf_s {
    r2_mf_tx_state_t *tx;
    r2_mf_rx_state_t *rx;
    int fwd;                    /* this call: we are the forward side */
    char tx_tone;               /* tone we send now, 0 silence */
    char rx_tone;               /* backward tone heard now, 0 silence */
    /* China forward override */
    int ovr_armed;              /* set by vb_r2mf_arm for the next outgoing call */
    int ovr;                    /* on for this call */
    int started;
    int in_ani;
    int group_b;
    char ani[VB_R2_NUM_MAX];
    char dnis[VB_R2_NUM_MAX];
    char category;
    int ani_pos, dnis_pos;
};

vb_r2mf_t *vb_r2mf_new(void)
{
    vb_r2mf_t *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->tx = r2_mf_tx_init(NULL, 1);
    m->rx = r2_mf_rx_init(NULL, 0, NULL, NULL);
    if (m->tx == NULL || m->rx == NULL) {
        vb_r2mf_free(m);
        return NULL;
    }
    return m;
}

void vb_r2mf_free(vb_r2mf_t *m)
{
    if (m == NULL)
        return;
    if (m->tx)
        r2_mf_tx_free(m->tx);
    if (m->rx)
        r2_mf_rx_free(m->rx);
    free(m);
}

void vb_r2mf_arm(vb_r2mf_t *m, const char *ani, const char *dnis, char category)
{
    snprintf(m->ani, sizeof(m->ani), "%s", ani ? ani : "");
    snprintf(m->dnis, sizeof(m->dnis), "%s", dnis ? dnis : "");
    m->category = category;
    m->ovr_armed = 1;
}

void vb_r2mf_disarm(vb_r2mf_t *m)
{
    m->ovr_armed = 0;
    m->ovr = 0;
}

static void send_tone(vb_r2mf_t *m, char tone)
{
    m->tx_tone = tone;
    r2_mf_tx_put(m->tx, tone);
}

/* China forward: a backward signal has ended; answer it (compelled cycle) */
static void on_backward(vb_r2mf_t *m, char s)
{
    if (m->group_b)
        return;                                 /* group B: openr2 decides, we send nothing */
    switch (s) {
    case '1':                                   /* A1: next digit */
        if (m->in_ani) {
            if (m->ani[m->ani_pos])
                send_tone(m, m->ani[m->ani_pos++]);
            else {
                send_tone(m, 'F');              /* I-15: end of ANI */
                m->in_ani = 0;                  /* a later A1 asks for DNIS again */
            }
        } else if (m->dnis[m->dnis_pos]) {
            send_tone(m, m->dnis[m->dnis_pos++]);
        }                                       /* no end-of-DNIS in China: stay silent */
        break;
    case '2':                                   /* A2: the previous digit again */
        if (m->dnis_pos >= 2)
            send_tone(m, m->dnis[m->dnis_pos - 2]);
        break;
    case '6':                                   /* A6: KA, then ANI */
        send_tone(m, m->category);
        m->in_ani = 1;
        break;
    case '3':                                   /* A3: KD, then group B */
        send_tone(m, m->category);
        m->group_b = 1;
        break;
    default:                                    /* A4 congestion, A5...: openr2 handles it */
        break;
    }
}

/* ---- openr2_mflib_interface_t ------------------------------------------- */

static void *mf_write_init(void *h, int forward_signals)
{
    vb_r2mf_t *m = h;

    r2_mf_tx_init(m->tx, forward_signals);
    m->fwd = forward_signals;
    m->tx_tone = 0;
    m->ovr = forward_signals && m->ovr_armed;
    m->started = m->in_ani = m->group_b = 0;
    m->ani_pos = m->dnis_pos = 0;
    return m;
}

static void *mf_read_init(void *h, int forward_signals)
{
    vb_r2mf_t *m = h;

    r2_mf_rx_init(m->rx, forward_signals, NULL, NULL);
    m->rx_tone = 0;
    return m;
}

static int mf_detect_tone(void *h, const int16_t buf[], int n)
{
    vb_r2mf_t *m = h;
    char s;

    r2_mf_rx(m->rx, buf, n);
    s = (char) r2_mf_rx_get(m->rx);
    if (m->ovr && s != m->rx_tone) {
        if (s && !m->rx_tone) {
            send_tone(m, 0);                    /* their tone on: ours off */
        } else if (!s) {
            char prev = m->rx_tone;
            m->rx_tone = 0;
            on_backward(m, prev);
            return 0;
        }
    }
    m->rx_tone = s;
    return s;
}

static int mf_generate_tone(void *h, int16_t buf[], int n)
{
    vb_r2mf_t *m = h;
    int got = r2_mf_tx(m->tx, buf, n);

    if (got < n)
        memset(buf + got, 0, (size_t) (n - got) * sizeof(int16_t));
    return n;
}

static int mf_select_tone(void *h, char tone)
{
    vb_r2mf_t *m = h;

    if (!m->ovr) {
        send_tone(m, tone);
        return 0;
    }
    if (tone && !m->started) {                  /* openr2 starts the cycle on the seize ack */
        m->started = 1;
        if (m->dnis[m->dnis_pos])
            send_tone(m, m->dnis[m->dnis_pos++]);
    }
    return 0;                                   /* every later choice is ours */
}

static int mf_want_generate(void *h, int signal)
{
    vb_r2mf_t *m = h;

    (void) signal;
    return m->tx_tone != 0;
}

openr2_mflib_interface_t vb_r2mf_iface = {
    .mf_read_init = mf_read_init,
    .mf_write_init = mf_write_init,
    .mf_detect_tone = mf_detect_tone,
    .mf_generate_tone = mf_generate_tone,
    .mf_select_tone = mf_select_tone,
    .mf_want_generate = mf_want_generate,
    .mf_read_dispose = NULL,
    .mf_write_dispose = NULL,
};
