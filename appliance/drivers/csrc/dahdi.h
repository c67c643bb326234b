/*
 * dahdi.h - the real-card backend: engine channels bound to DAHDI channel
 * devices (dahdi.c), and the fake DAHDI kernel the tests run it on
 * (dahdifake.c).  See docs/dahdi.md.
 *
 * A bound channel exchanges one 160-byte A-law block per tick with its DAHDI
 * channel (read, write) and carries its line signalling through DAHDI ioctls
 * and events, translated to and from the engine's line bits (VB_BIT_*), so
 * the line state machines (line.c) run unchanged, as over a simulated cable.
 */
#ifndef REXIAN_DAHDI_H
#define REXIAN_DAHDI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <dahdi/user.h>

#include "vb.h"

/* The system calls of the backend, replaceable for tests (vb_dahdi_card_use_fake). */
typedef struct {
    const char *name;
    int (*open)(const char *path, int flags);
    int (*close)(int fd);
    int (*ioctl)(int fd, unsigned long req, void *arg);
    ssize_t (*read)(int fd, void *buf, size_t n);
    ssize_t (*write)(int fd, const void *buf, size_t n);
} vb_dahdi_ops_t;

typedef struct vb_dcard_s vb_dcard_t;

/* Per bound channel counters (vb_dahdi_card_stats). */
typedef struct {
    int bound;              /* 1 while the channel is bound */
    int channo;             /* DAHDI channel number */
    int sigtype;            /* DAHDI_SIG_* from GET_PARAMS */
    int alarm;              /* DAHDI_ALARM_* mask while DAHDI reports an alarm (0: none) */
    uint64_t reads;         /* blocks read */
    uint64_t underruns;     /* ticks without a block (EAGAIN): silence went up instead */
    uint64_t short_reads;   /* reads shorter than a block (padded with silence) */
    uint64_t read_errors;   /* reads failing with anything but EAGAIN/ELAST */
    uint64_t writes;        /* blocks written */
    uint64_t write_full;    /* writes refused with EAGAIN (the card's buffers were full) */
    uint64_t write_errors;
    uint64_t events;        /* DAHDI events taken with GETEVENT */
    uint64_t elast;         /* reads/writes answered with ELAST (an event was pending) */
    uint64_t ioctl_errors;  /* signalling ioctls (HOOK, SETTXBITS, SETPOLARITY) that failed */
    int last_event;         /* the last DAHDI_EVENT_* taken */
} vb_dahdi_card_stats_t;

/* State of one fake kernel channel, for tests (vb_dahdi_fake_state). */
typedef struct {
    int exists;
    int open;               /* an fd has SPECIFY'd it */
    int blocksize;
    int law;
    int sigtype;
    int hook;               /* last DAHDI_HOOK value set, -1 none */
    int hook_ops;           /* DAHDI_HOOK calls accepted */
    int ringing;            /* FXO-signalled: RING set, not RINGOFF'd nor ring-tripped */
    int offhook;            /* FXS-signalled: our hook (OFFHOOK); FXO-signalled: the phone's */
    int polarity;
    int txbits;
    int rxbits;
    int alarms;
    int events_queued;
    int rx_queued;          /* bytes waiting to be read */
    int tx_queued;          /* bytes written, not yet pulled */
} vb_dahdi_fake_state_t;

/* engine.c hooks (media thread) */
void vb_dcard_tick_rx(vb_board_t *b);   /* after the links' rx, before phase 1 */
void vb_dcard_tick_tx(vb_board_t *b);   /* after phase 4 */
void vb_dcard_free(vb_board_t *b);      /* board free: close every fd */

/* the fake kernel's ops table (dahdifake.c) */
const vb_dahdi_ops_t *vb_dahdi_fake_ops(void);

/* public (also in _vb.cdef) */
int vb_dahdi_bind(vb_board_t *b, int chan, int channo, const char *device);
int vb_dahdi_unbind(vb_board_t *b, int chan);
int vb_dahdi_card_stats(vb_board_t *b, int chan, vb_dahdi_card_stats_t *st);
int vb_dahdi_card_use_fake(int on);
const char *vb_dahdi_card_error(void);  /* why the last failing vb_dahdi_bind failed */
const char *vb_dahdi_card_signame(int sigtype);

int vb_dahdi_fake_reset(void);
int vb_dahdi_fake_add(int channo, int sigtype);
int vb_dahdi_fake_event(int channo, int event);
int vb_dahdi_fake_set_rxbits(int channo, int bits);
int vb_dahdi_fake_alarm(int channo, int alarms);
int vb_dahdi_fake_patch(int a, int b);
int vb_dahdi_fake_push_rx(int channo, const uint8_t *data, int n);
int vb_dahdi_fake_pull_tx(int channo, uint8_t *out, int max);
int vb_dahdi_fake_state(int channo, vb_dahdi_fake_state_t *st);

#endif
