/*
 * r2.h - MFC-R2 China: the appliance side over libopenr2 1.3.3 (r2.c) and the
 * scripted forward exchange of the simulator (r2x.c).  See docs/r2.md.
 */
#ifndef REXIAN_R2_H
#define REXIAN_R2_H

#include "vb.h"

#define VB_R2_MAX_CHANS 32
#define VB_R2_NUM_MAX   32

enum vb_r2_event_type {
    VB_R2_EV_INIT = 1,          /* seizure: a call starts, digits follow */
    VB_R2_EV_OFFERED = 2,       /* ani, dnis; arg = category; text = category name */
    VB_R2_EV_ACCEPTED = 3,
    VB_R2_EV_ANSWERED = 4,
    VB_R2_EV_DISCONNECT = 5,    /* far end cleared; arg = cause; text */
    VB_R2_EV_END = 6,           /* the channel is idle again */
    VB_R2_EV_IDLE = 7,
    VB_R2_EV_BLOCKED = 8,
    VB_R2_EV_PROTOCOL_ERROR = 9,/* arg = openr2 error; text */
    VB_R2_EV_ALARM = 10,        /* arg = 1 alarm, 0 cleared */
    VB_R2_EV_OS_ERROR = 11,     /* arg = errno */
};

enum vb_r2_cause {
    VB_R2_CAUSE_NORMAL = 0,
    VB_R2_CAUSE_BUSY = 1,
    VB_R2_CAUSE_CONGESTION = 2,
    VB_R2_CAUSE_UNALLOCATED = 3,
    VB_R2_CAUSE_OUT_OF_ORDER = 4,
    VB_R2_CAUSE_NO_ANSWER = 5,
    VB_R2_CAUSE_OTHER = 6,
};

typedef struct {
    int type;
    int chan;                   /* index in the span */
    int arg;
    char ani[VB_R2_NUM_MAX];
    char dnis[VB_R2_NUM_MAX];
    char text[48];
} vb_r2_event_t;

typedef struct vb_r2_s vb_r2_t;

vb_r2_t *vb_r2_new(int max_ani, int max_dnis, int dnis_len);
void vb_r2_free(vb_r2_t *r);
int  vb_r2_add_chan(vb_r2_t *r, int fd);            /* >= 0: index in the span */
int  vb_r2_process(vb_r2_t *r, int i);              /* never blocks */
int  vb_r2_time_to_next(vb_r2_t *r, int i);         /* ms to the next timer, -1 none */
int  vb_r2_accept(vb_r2_t *r, int i, int charge);
int  vb_r2_answer(vb_r2_t *r, int i);
int  vb_r2_disconnect(vb_r2_t *r, int i, int cause);
int  vb_r2_get_events(vb_r2_t *r, vb_r2_event_t *out, int max);
const char *vb_r2_state(vb_r2_t *r, int i);
/* outgoing call: category = the KA/KD digit (1 ordinary subscriber, 2 priority, 3 test...) */
int  vb_r2_make_call(vb_r2_t *r, int i, const char *ani, const char *dnis, int category);
int  vb_r2_block(vb_r2_t *r, int i);                /* send BLOCKED, drop any call state */
int  vb_r2_set_idle(vb_r2_t *r, int i);             /* send IDLE, drop any call state */
void vb_r2_set_mf_back_timeout(vb_r2_t *r, int ms);

/* r2mf.c: the MF library openr2 runs on our channels (China forward ANI fix) */
typedef struct vb_r2mf_s vb_r2mf_t;
vb_r2mf_t *vb_r2mf_new(void);
void vb_r2mf_free(vb_r2mf_t *m);
void vb_r2mf_arm(vb_r2mf_t *m, const char *ani, const char *dnis, char category);
void vb_r2mf_disarm(vb_r2mf_t *m);

/* scripted forward exchange (far board) */
enum vb_r2x_state {
    VB_R2X_IDLE = 0,
    VB_R2X_SEIZED = 1,          /* seize sent, waiting for the acknowledgement */
    VB_R2X_MF = 2,              /* compelled MF exchange */
    VB_R2X_ACCEPTED = 3,        /* group B free (B1): waiting for answer */
    VB_R2X_REJECTED = 4,        /* busy / congestion / other group B or A signal */
    VB_R2X_ANSWERED = 5,
    VB_R2X_CLEARED_BACK = 6,    /* the backward side hung up */
    VB_R2X_CLEARING = 7,        /* clear-forward sent, waiting for idle */
    VB_R2X_FAILED = 8,          /* timeout or release during set-up */
    /* backward role: the exchange receives a call from us */
    VB_R2X_INCOMING = 9,        /* seized by us, compelled MF exchange */
    VB_R2X_RINGING = 10,        /* B1 sent: the called subscriber is rung (answer after answer_ms) */
};

/* What the exchange answers when it is called (backward role), group B */
enum vb_r2x_answer {
    VB_R2X_ANS_ANSWER = 0,      /* B1, then answer after answer_ms */
    VB_R2X_ANS_NOANSWER = 1,    /* B1, never answers */
    VB_R2X_ANS_BUSY = 2,        /* B2 subscriber busy */
    VB_R2X_ANS_CONGESTION = 3,  /* B4 congestion */
    VB_R2X_ANS_UNALLOCATED = 4, /* B5 unallocated number */
};

typedef struct {
    int dnis_len;               /* backward: DNIS digits it takes before group B */
    int ani_after;              /* backward: ask KA + ANI after this many DNIS digits; 0 after all; -1 never */
    int answer;                 /* backward: vb_r2x_answer */
    int answer_ms;              /* backward: ring time before answer */
    int no_seize_ack;           /* backward fault: never acknowledge a seizure */
    int mf_silent_after;        /* fault, both roles: stop the compelled cycle after this many signals (0 off) */
} vb_r2x_config_t;

typedef struct vb_r2x_s vb_r2x_t;

vb_r2x_t *vb_r2x_new(vb_board_t *b, int chan);
void vb_r2x_free(vb_r2x_t *x);
int  vb_r2x_call(vb_r2x_t *x, const char *ani, const char *dnis, int category);
int  vb_r2x_clear(vb_r2x_t *x);
int  vb_r2x_state(vb_r2x_t *x, int *b_signal);
int  vb_r2x_configure(vb_r2x_t *x, const vb_r2x_config_t *cfg);
int  vb_r2x_garbage(vb_r2x_t *x, int ms);          /* send random CAS bits for ms, then resume */
int  vb_r2x_received(vb_r2x_t *x, char *ani, char *dnis, int *category);  /* backward: what we sent it */

#endif
