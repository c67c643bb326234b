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
 *
 * Backward role (the exchange is called by us): acknowledge the seizure, ask
 * DNIS digits with A1, KA with A6 then ANI with A1 (after ani_after DNIS
 * digits, or after all), A3 for KD, then a group B signal (B1 free, B2 busy,
 * B4 congestion, B5 unallocated); answer after answer_ms.  Faults: no seizure
 * acknowledgement, a compelled cycle that stops, random CAS bits.
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

#define NUM_MAX  (VB_R2_NUM_MAX - 1)

struct vb_r2x_s {
    vb_tap_t tap;
    pthread_mutex_t lock;
    vb_r2x_config_t cfg;
    int state;                      /* VB_R2X_* */
    int garbage_ms;                 /* random CAS bits for this long */
    unsigned rng;
    int signals;                    /* compelled signals so far (fault injection) */
    /* backward role */
    int b_phase;                    /* what the next forward signal is: 0 DNIS, 1 KA, 2 ANI, 3 KD, 4 done */
    int ka_asked;
    char got_ani[VB_R2_NUM_MAX];
    char got_dnis[VB_R2_NUM_MAX];
    int got_category;
    int bwd;                        /* the current call is one we receive (backward role) */
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

/* The MF signal heard this frame, as compelled-cycle edges: returns 1 when a tone starts,
   -1 when it ends (*sig = the tone), 0 otherwise (one tone straight into another is no edge). */
static int mf_edge(vb_r2x_t *x, const uint8_t *rx, char *sig)
{
    int16_t amp[VB_N];
    char s;
    int i;

    for (i = 0; i < VB_N; i++)
        amp[i] = vb_alaw_dec[rx[i]];
    r2_mf_rx(x->mrx, amp, VB_N);
    s = (char) r2_mf_rx_get(x->mrx);
    if (s == x->rx_sig)
        return 0;
    if (s && !x->rx_sig) {
        x->rx_sig = *sig = s;
        return 1;
    }
    if (!s) {
        *sig = x->rx_sig;
        x->rx_sig = 0;
        return -1;
    }
    x->rx_sig = s;
    return 0;
}

/* fault injection: the compelled cycle stops after cfg.mf_silent_after signals */
static int silent_now(vb_r2x_t *x)
{
    return x->cfg.mf_silent_after > 0 && ++x->signals > x->cfg.mf_silent_after;
}

/* forward role: the backward side's tones */
static void mf_rx(vb_r2x_t *x, const uint8_t *rx)
{
    char sig;

    switch (mf_edge(x, rx, &sig)) {
    case 1:                                     /* backward tone on: our tone off */
        send_sig(x, 0);
        break;
    case -1:                                    /* backward tone off: act on it */
        if (!silent_now(x))
            on_backward(x, sig);
        break;
    }
}

/* ---- backward role: the exchange is called ------------------------------- */

enum { PH_DNIS, PH_KA, PH_ANI, PH_KD, PH_DONE };

static void append(char *s, char d)
{
    size_t n = strlen(s);

    if (n < NUM_MAX) {
        s[n] = d;
        s[n + 1] = '\0';
    }
}

static void ask_ka(vb_r2x_t *x)
{
    x->ka_asked = 1;
    x->b_phase = PH_KA;
    send_sig(x, '6');                           /* A6: send KA (category), then ANI */
}

static void after_dnis_digit(vb_r2x_t *x)
{
    int n = (int) strlen(x->got_dnis);

    if (!x->ka_asked && x->cfg.ani_after > 0 && n == x->cfg.ani_after)
        ask_ka(x);
    else if (n < x->cfg.dnis_len)
        send_sig(x, '1');                       /* A1: next digit */
    else if (!x->ka_asked && x->cfg.ani_after == 0)
        ask_ka(x);
    else {
        x->b_phase = PH_KD;
        send_sig(x, '3');                       /* A3: address complete, send KD, group B next */
    }
}

static char group_b_signal(int answer)
{
    switch (answer) {
    case VB_R2X_ANS_BUSY: return '2';
    case VB_R2X_ANS_CONGESTION: return '4';
    case VB_R2X_ANS_UNALLOCATED: return '5';
    default: return '1';                        /* subscriber free, charge */
    }
}

/* a forward signal has started: answer it with a backward signal (compelled) */
static void b_respond(vb_r2x_t *x, char d)
{
    if (silent_now(x))
        return;                                 /* fault: no backward signal */
    switch (x->b_phase) {
    case PH_DNIS:
        append(x->got_dnis, d);
        after_dnis_digit(x);
        break;
    case PH_KA:
        x->got_category = d >= '0' && d <= '9' ? d - '0' : 10 + d - 'B';
        x->b_phase = PH_ANI;
        send_sig(x, '1');
        break;
    case PH_ANI:
        if (d == 'F') {                         /* I-15: end of ANI; the DNIS goes on */
            x->b_phase = PH_DNIS;
            if ((int) strlen(x->got_dnis) < x->cfg.dnis_len) {
                send_sig(x, '1');
            } else {
                x->b_phase = PH_KD;
                send_sig(x, '3');
            }
        } else {
            append(x->got_ani, d);
            send_sig(x, '1');
        }
        break;
    case PH_KD:
        x->b_sig = group_b_signal(x->cfg.answer);
        x->b_phase = PH_DONE;
        send_sig(x, x->b_sig);
        break;
    default:
        break;
    }
}

static void b_mf(vb_r2x_t *x, const uint8_t *rx)
{
    char sig;

    switch (mf_edge(x, rx, &sig)) {
    case 1:
        b_respond(x, sig);
        break;
    case -1:                                    /* forward tone off: ours off */
        send_sig(x, 0);
        if (x->b_phase == PH_DONE)
            set_state(x, x->b_sig == '1' ? VB_R2X_RINGING : VB_R2X_REJECTED);
        break;
    }
}

static void b_seized(vb_r2x_t *x)
{
    x->bwd = 1;
    x->b_phase = PH_DNIS;
    x->ka_asked = 0;
    x->signals = 0;
    x->got_ani[0] = x->got_dnis[0] = '\0';
    x->got_category = 0;
    x->rx_sig = x->b_sig = 0;
    r2_mf_tx_init(x->mtx, 0);
    r2_mf_rx_init(x->mrx, 1, NULL, NULL);
    set_state(x, VB_R2X_INCOMING);
}

static int b_frame(vb_r2x_t *x, const uint8_t *rx, int cas_rx)
{
    if (x->req_clear) {
        x->req_clear = 0;
        if (x->state != VB_R2X_IDLE)
            set_state(x, VB_R2X_CLEARED_BACK);
        send_sig(x, 0);
    }
    if (x->state != VB_R2X_IDLE && cas_rx == CAS_F_IDLE && x->ms > 0) {
        send_sig(x, 0);                         /* clear forward (or release during set-up) */
        set_state(x, VB_R2X_IDLE);
        x->bwd = 0;
        return CAS_B_IDLE;
    }
    switch (x->state) {
    case VB_R2X_INCOMING:
        b_mf(x, rx);
        break;
    case VB_R2X_RINGING:
        if (x->cfg.answer == VB_R2X_ANS_ANSWER && x->ms >= x->cfg.answer_ms)
            set_state(x, VB_R2X_ANSWERED);
        break;
    default:
        break;
    }
    return x->state == VB_R2X_ANSWERED ? CAS_B_ANSWER : CAS_B_ACK;
}

/* ---- forward role: the exchange calls us --------------------------------- */

static int f_frame(vb_r2x_t *x, const uint8_t *rx, int cas_rx)
{
    if (x->req_clear) {
        x->req_clear = 0;
        if (x->state != VB_R2X_IDLE)
            set_state(x, VB_R2X_CLEARING);
        send_sig(x, 0);
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
    return (x->state == VB_R2X_IDLE || x->state == VB_R2X_CLEARING) ? CAS_F_IDLE : CAS_F_SEIZE;
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
    if (x->state == VB_R2X_IDLE && !x->bwd) {
        if (x->req_call && cas_rx == CAS_B_IDLE) {
            x->req_call = 0;
            x->dnis_pos = x->ani_pos = x->in_ani = x->group_b = x->signals = 0;
            x->rx_sig = x->b_sig = 0;
            r2_mf_tx_init(x->mtx, 1);
            set_state(x, VB_R2X_SEIZED);
        } else if (cas_rx == CAS_F_SEIZE && !x->cfg.no_seize_ack && x->garbage_ms <= 0) {
            b_seized(x);
        }
    }
    *cas_tx = x->bwd ? b_frame(x, rx, cas_rx) : f_frame(x, rx, cas_rx);
    if (x->garbage_ms > 0) {
        x->garbage_ms -= VB_TICK_MS;
        x->rng = x->rng * 1103515245u + 12345u;
        *cas_tx = (int) ((x->rng >> 16) & 0xF);
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
    x->rng = (unsigned) chan * 2654435761u + 1u;
    x->cfg.dnis_len = 8;
    x->cfg.ani_after = 0;
    x->cfg.answer_ms = 1000;
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

int vb_r2x_configure(vb_r2x_t *x, const vb_r2x_config_t *cfg)
{
    if (x == NULL || cfg == NULL || cfg->dnis_len < 1 || cfg->dnis_len > NUM_MAX || cfg->ani_after < -1 ||
        cfg->ani_after > cfg->dnis_len || cfg->answer < 0 || cfg->answer > VB_R2X_ANS_UNALLOCATED ||
        cfg->answer_ms < 0 || cfg->mf_silent_after < 0)
        return -VB_EINVAL;
    pthread_mutex_lock(&x->lock);
    x->cfg = *cfg;
    pthread_mutex_unlock(&x->lock);
    return 0;
}

int vb_r2x_garbage(vb_r2x_t *x, int ms)
{
    if (x == NULL || ms < 0)
        return -VB_EINVAL;
    pthread_mutex_lock(&x->lock);
    x->garbage_ms = ms;
    pthread_mutex_unlock(&x->lock);
    return 0;
}

int vb_r2x_received(vb_r2x_t *x, char *ani, char *dnis, int *category)
{
    if (x == NULL)
        return -VB_EINVAL;
    pthread_mutex_lock(&x->lock);
    if (ani)
        snprintf(ani, VB_R2_NUM_MAX, "%s", x->got_ani);
    if (dnis)
        snprintf(dnis, VB_R2_NUM_MAX, "%s", x->got_dnis);
    if (category)
        *category = x->got_category;
    pthread_mutex_unlock(&x->lock);
    return 0;
}
