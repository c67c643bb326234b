/*
 * r2x.c - a scripted China No.1 (MFC-R2) *forward* exchange on an E1 channel
 * of the far board: CAS state machine + compelled MF with spandsp's
 * r2_mf_tx/r2_mf_rx.  It runs as a tap in that board's media thread; the hub
 * only places calls, clears them and reads the state.  openr2's own forward
 * side cannot send ANI in the China variant, hence this.
 *
 * CAS (R2 bits | 0x3): IDLE/CLEAR_FWD 0xB, SEIZE 0x3 (forward);
 * SEIZE_ACK/CLEAR_BACK 0xF, ANSWER 0x7, IDLE 0xB (backward).
 * MF: A1 next digit (DNIS, or ANI after KA), A6 send KA (category) then ANI,
 * ANI ends with I-15, A3 send KD then group B: B1 free (accept), others busy.
 */
#include "vb_internal.h"
#include "dahdisim.h"
#include "r2.h"

#include <stdlib.h>
#include <string.h>

#define CAS_F_IDLE   0xB
#define CAS_F_SEIZE  0x3
#define CAS_B_IDLE   0xB
#define CAS_B_ACK    0xF
#define CAS_B_ANSWER 0x7

struct vb_r2x_s {
    vb_tap_t tap;
    pthread_mutex_t lock;
    int state;                      /* VB_R2X_* */
    int req_call, req_clear;
    char ani[VB_R2_NUM_MAX];
    char dnis[VB_R2_NUM_MAX];
    char category;                  /* KA signal, e.g. '1' */
    char kd;                        /* KD signal, e.g. '1' */
    int dnis_pos, ani_pos, in_ani;
    char tx_sig;                    /* forward tone on now, 0 none */
    char rx_sig;                    /* backward signal being heard, 0 none */
    char b_sig;                     /* group B signal received */
    int group_b;
    int cas_rx;
    int ms;                         /* in this state */
    r2_mf_tx_state_t *mtx;
    r2_mf_rx_state_t *mrx;
};

static void send_sig(vb_r2x_t *x, char sig)
{
    x->tx_sig = sig;
    r2_mf_tx_put(x->mtx, sig);
}

static void set_state(vb_r2x_t *x, int st)
{
    x->state = st;
    x->ms = 0;
}

/* a backward signal has ended: answer it (compelled cycle) */
static void on_backward(vb_r2x_t *x, char s)
{
    if (x->group_b) {
        x->b_sig = s;
        set_state(x, s == '1' ? VB_R2X_ACCEPTED : VB_R2X_REJECTED);
        return;
    }
    switch (s) {
    case '1':                                   /* A1: next digit */
        if (x->in_ani) {
            if (x->ani[x->ani_pos])
                send_sig(x, x->ani[x->ani_pos++]);
            else
                send_sig(x, 'F');               /* I-15: end of ANI */
        } else if (x->dnis[x->dnis_pos]) {
            send_sig(x, x->dnis[x->dnis_pos++]);
        }                                       /* else: China has no end-of-DNIS: stay silent */
        break;
    case '6':                                   /* A6: send KA, then ANI */
        send_sig(x, x->category);
        x->in_ani = 1;
        break;
    case '3':                                   /* A3: send KD, then group B */
        send_sig(x, x->kd);
        x->group_b = 1;
        break;
    case '2':                                   /* A2: previous digit (n-1) */
        if (!x->in_ani && x->dnis_pos >= 2)
            send_sig(x, x->dnis[x->dnis_pos - 2]);
        break;
    default:                                    /* A4 congestion, A5..: give up */
        x->b_sig = s;
        set_state(x, VB_R2X_REJECTED);
        break;
    }
}

static void mf_rx(vb_r2x_t *x, const uint8_t *rx)
{
    int16_t amp[VB_N];
    int i;
    char s;

    for (i = 0; i < VB_N; i++)
        amp[i] = vb_alaw_dec[rx[i]];
    r2_mf_rx(x->mrx, amp, VB_N);
    s = (char) r2_mf_rx_get(x->mrx);
    if (s == x->rx_sig)
        return;
    if (s && !x->rx_sig) {                      /* backward tone on: our tone off */
        x->rx_sig = s;
        send_sig(x, 0);
    } else if (!s) {                            /* backward tone off: act on it */
        char prev = x->rx_sig;
        x->rx_sig = 0;
        on_backward(x, prev);
    } else {
        x->rx_sig = s;
    }
}

static void x_frame(vb_tap_t *t, const uint8_t *rx, int cas_rx, int line_up, uint8_t *tx, int *has_tx,
                    int *cas_tx)
{
    vb_r2x_t *x = t->ctx;
    int16_t amp[VB_N];
    int n;
    int i;

    (void) line_up;
    pthread_mutex_lock(&x->lock);
    x->cas_rx = cas_rx;
    x->ms += VB_TICK_MS;
    if (x->req_clear) {
        x->req_clear = 0;
        if (x->state != VB_R2X_IDLE)
            set_state(x, VB_R2X_CLEARING);
        send_sig(x, 0);
    }
    if (x->req_call && x->state == VB_R2X_IDLE && cas_rx == CAS_B_IDLE) {
        x->req_call = 0;
        x->dnis_pos = x->ani_pos = x->in_ani = x->group_b = 0;
        x->rx_sig = x->b_sig = 0;
        set_state(x, VB_R2X_SEIZED);
    }
    switch (x->state) {
    case VB_R2X_SEIZED:
        if (cas_rx == CAS_B_ACK) {
            set_state(x, VB_R2X_MF);
            r2_mf_rx_init(x->mrx, 0, NULL, NULL);
            send_sig(x, x->dnis[x->dnis_pos] ? x->dnis[x->dnis_pos++] : 0);
        } else if (x->ms > 8000) {
            set_state(x, VB_R2X_FAILED);
        }
        break;
    case VB_R2X_MF:
    case VB_R2X_ACCEPTED:
        if (x->state == VB_R2X_MF)
            mf_rx(x, rx);
        if (cas_rx == CAS_B_ANSWER)
            set_state(x, VB_R2X_ANSWERED);
        else if (cas_rx == CAS_B_IDLE && x->ms > 100)
            set_state(x, VB_R2X_FAILED);        /* the backward side released */
        else if (x->state == VB_R2X_MF && x->ms > 30000)
            set_state(x, VB_R2X_FAILED);
        break;
    case VB_R2X_ANSWERED:
        if (cas_rx == CAS_B_ACK)
            set_state(x, VB_R2X_CLEARED_BACK);
        break;
    case VB_R2X_CLEARING:
        if (cas_rx == CAS_B_IDLE)
            set_state(x, VB_R2X_IDLE);
        break;
    default:
        break;
    }
    switch (x->state) {
    case VB_R2X_IDLE:
    case VB_R2X_CLEARING:
        *cas_tx = CAS_F_IDLE;
        break;
    default:
        *cas_tx = CAS_F_SEIZE;
        break;
    }
    if (x->tx_sig) {
        n = r2_mf_tx(x->mtx, amp, VB_N);
        for (i = 0; i < VB_N; i++)
            tx[i] = vb_alaw(i < n ? amp[i] : 0);
        *has_tx = 1;
    }
    pthread_mutex_unlock(&x->lock);
}

vb_r2x_t *vb_r2x_new(vb_board_t *b, int chan)
{
    vb_r2x_t *x;

    if (b == NULL || chan < 0 || chan >= b->ctl_nchan || b->ctl_kind[chan] != VB_KIND_E1)
        return NULL;
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    pthread_mutex_init(&x->lock, NULL);
    x->mtx = r2_mf_tx_init(NULL, 1);
    x->mrx = r2_mf_rx_init(NULL, 0, NULL, NULL);
    x->category = '1';
    x->kd = '1';
    x->cas_rx = CAS_B_IDLE;
    x->tap.b = b;
    x->tap.chan = chan;
    x->tap.ctx = x;
    x->tap.frame = x_frame;
    vb_tap_add(&x->tap);
    return x;
}

void vb_r2x_free(vb_r2x_t *x)
{
    if (x == NULL)
        return;
    vb_tap_remove(&x->tap);
    r2_mf_tx_free(x->mtx);
    r2_mf_rx_free(x->mrx);
    pthread_mutex_destroy(&x->lock);
    free(x);
}

int vb_r2x_call(vb_r2x_t *x, const char *ani, const char *dnis, int category)
{
    if (x == NULL || dnis == NULL || strlen(dnis) >= VB_R2_NUM_MAX || (ani && strlen(ani) >= VB_R2_NUM_MAX))
        return -VB_EINVAL;
    pthread_mutex_lock(&x->lock);
    if (x->state != VB_R2X_IDLE || x->req_call) {
        pthread_mutex_unlock(&x->lock);
        return -VB_ESTATE;
    }
    snprintf(x->ani, sizeof(x->ani), "%s", ani ? ani : "");
    snprintf(x->dnis, sizeof(x->dnis), "%s", dnis);
    x->category = (char) (category > 0 && category <= 9 ? '0' + category : '1');
    x->req_call = 1;
    pthread_mutex_unlock(&x->lock);
    return 0;
}

int vb_r2x_clear(vb_r2x_t *x)
{
    if (x == NULL)
        return -VB_EINVAL;
    pthread_mutex_lock(&x->lock);
    x->req_clear = 1;
    x->req_call = 0;
    pthread_mutex_unlock(&x->lock);
    return 0;
}

int vb_r2x_state(vb_r2x_t *x, int *b_signal)
{
    int st;

    if (x == NULL)
        return -VB_EINVAL;
    pthread_mutex_lock(&x->lock);
    st = x->req_call ? VB_R2X_SEIZED : x->state;
    if (b_signal)
        *b_signal = x->b_sig;
    pthread_mutex_unlock(&x->lock);
    return st;
}
