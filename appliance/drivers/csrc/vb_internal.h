/*
 * vb_internal.h - Rexian media engine: internal structures shared by the
 * engine's modules (not part of the public interface, see vb.h).
 *
 * Modules:
 *   util.c      time, G.711 tables, logging, errors, global init
 *   evq.c       event ring (media/writer threads -> controlling thread)
 *   engine.c    board life cycle, media thread, tick, stats, status
 *   cmd.c       public command entry points: validate, queue; apply in the tick
 *   chan.c      per channel: receive side, detectors, caller-ID receive
 *   line.c      line signalling (FXS/FXO/E1), ring cadence, caller-ID send
 *   play.c      play queue (files, tones, DTMF, silence) and DTMF send
 *   switch.c    connect, listen, conferences with whisper
 *   recorder.c  recordings: per-recording buffers, the writer thread
 *   wav.c       WAV parsing/writing and the vb_util_* functions
 *   sim_link.c  virtual cables between boards (SOCK_SEQPACKET)
 *   dahdi.c     channels bound to DAHDI card channels (dahdi.h; dahdifake.c for tests)
 */
#ifndef REXIAN_VB_INTERNAL_H
#define REXIAN_VB_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdatomic.h>
#include <pthread.h>

#include <spandsp.h>
#include <spandsp/expose.h>

#include "vb.h"

#define VB_N                VB_FRAME_SAMPLES
#define VB_ALAW_SILENCE     0xD5
#define VB_EVQ_SIZE         4096
#define VB_CMDQ_MAX         4096
#define VB_MAX_LINKS        256
#define VB_CID_NUMBER_MAX   20
#define VB_CID_NAME_MAX     40
#define VB_DIGITS_MAX       128
#define VB_REC_BUF          16384       /* bytes of A-law per recording (~2 s) */

/* ---- line bits word carried per line per packet ------------------------ */
#define VB_BIT_PRESENT      0x0001      /* this end's line is connected (not cut) */
#define VB_BIT_HOOK         0x0002      /* FXO -> FXS: off-hook */
#define VB_BIT_RING         0x0004      /* FXS -> FXO: ring voltage */
#define VB_BIT_POLARITY     0x0008      /* FXS -> FXO: reversed */
#define VB_BIT_BATTERY      0x0010      /* FXS -> FXO: loop feed present */
#define VB_BIT_AIS          0x0020      /* E1: the span carries AIS (all ones): blue alarm at the far end */
#define VB_BIT_RAI          0x0040      /* E1: remote alarm indication (the sender is in red/blue alarm) */
#define VB_BIT_CAS_SHIFT    8           /* E1: ABCD in bits 8..11 */
#define VB_BIT_KIND_SHIFT   12          /* sender's kind in bits 12..13 */
#define VB_CAS_IDLE         0xB

typedef struct vb_chan_s vb_chan_t;
typedef struct vb_link_s vb_link_t;
typedef struct vb_rec_s vb_rec_t;
typedef struct vb_writer_s vb_writer_t;
typedef struct vb_cmd_s vb_cmd_t;

/* ---- util.c ----------------------------------------------------------------- */
void vb_global_init(void);
int64_t vb_now_ms(void);
int64_t vb_now_ns(void);
int64_t vb_thread_cpu_ns(void);
extern int16_t vb_alaw_dec[256];
extern uint8_t vb_alaw_enc[8192];
static inline uint8_t vb_alaw(int16_t x) { return vb_alaw_enc[((uint16_t) x) >> 3]; }
static inline int16_t vb_sat16(int32_t x)
{
    return (int16_t) (x > 32767 ? 32767 : (x < -32768 ? -32768 : x));
}
/* Frame helpers written so that the compiler vectorizes them (restrict, fixed length). */
static inline void vb_add16(int32_t *restrict acc, const int16_t *restrict x)
{
    for (int i = 0; i < VB_N; i++)
        acc[i] += x[i];
}
static inline void vb_add32(int32_t *restrict acc, const int32_t *restrict x)
{
    for (int i = 0; i < VB_N; i++)
        acc[i] += x[i];
}
static inline void vb_sub16(int32_t *restrict acc, const int16_t *restrict x)
{
    for (int i = 0; i < VB_N; i++)
        acc[i] -= x[i];
}
static inline void vb_sat_frame(int16_t *restrict out, const int32_t *restrict acc)
{
    for (int i = 0; i < VB_N; i++)
        out[i] = vb_sat16(acc[i]);
}
static inline void vb_mix2(int16_t *restrict out, const int16_t *restrict a, const int16_t *restrict b)
{
    for (int i = 0; i < VB_N; i++)
        out[i] = vb_sat16((int32_t) a[i] + b[i]);
}
static inline void vb_mix3(int16_t *restrict out, const int16_t *restrict a, const int16_t *restrict b,
                           const int16_t *restrict c)
{
    for (int i = 0; i < VB_N; i++)
        out[i] = vb_sat16((int32_t) a[i] + b[i] + c[i]);
}
void vb_set_errno(int e);
int vb_fail_sys(void);                      /* records errno, returns -VB_ESYS */
const char *vb_strerror(int e, char *buf, size_t len);
char *vb_strndup(const char *s, size_t max);
void vb_log(vb_board_t *b, int chan, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- evq.c -------------------------------------------------------------------- */
typedef struct {
    pthread_mutex_t lock;
    vb_event_t *buf;
    uint32_t size;
    uint32_t head;                          /* next to read */
    uint32_t count;
    uint64_t lost_total;
    uint32_t lost_pending;
} vb_evq_t;

int  vb_evq_init(vb_evq_t *q, uint32_t size);
void vb_evq_release(vb_evq_t *q);
/* Push one event.  Returns 1 if stored, 0 if lost. */
int  vb_evq_push(vb_evq_t *q, const vb_event_t *ev);
/* Pop up to max; if the ring is then empty, reset_fd (eventfd) is read. */
int  vb_evq_pop(vb_evq_t *q, vb_event_t *out, int max, int reset_fd);
uint64_t vb_evq_lost(vb_evq_t *q);

void vb_emit(vb_board_t *b, int type, int chan, uint32_t tag, int arg, int arg2, const char *text);
void vb_emitf(vb_board_t *b, int type, int chan, uint32_t tag, int arg, int arg2, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void vb_event_signal(vb_board_t *b);        /* write the eventfd */

/* ---- play.c ----------------------------------------------------------------- */
typedef struct {
    int active;
    uint32_t tag;
    int flags;
    int n;
    int idx;
    vb_play_item_t items[VB_PLAY_MAX_ITEMS];  /* strings owned (strdup) */
    /* current item */
    int started;
    FILE *fp;
    int fmt;                                /* 1 PCM16, 6 A-law, 7 mu-law */
    int64_t data_left;                      /* bytes */
    int64_t samples_left;                   /* -1: forever */
    tone_gen_descriptor_t tdesc;
    tone_gen_state_t tgen;
    dtmf_tx_state_t dtx;
} vb_play_t;

typedef struct {
    int active;
    uint32_t tag;
    dtmf_tx_state_t dtx;
} vb_dsend_t;

void vb_chplay_start(vb_chan_t *ch, uint32_t tag, vb_play_item_t *items, int n, int flags);
void vb_chplay_stop(vb_chan_t *ch, int reason, int digit);
void vb_chplay_frame(vb_chan_t *ch, int32_t *acc);   /* adds the play output to acc */
void vb_dsend_start(vb_chan_t *ch, uint32_t tag, const char *digits, int on_ms, int off_ms);
void vb_dsend_stop(vb_chan_t *ch, int stopped);
void vb_dsend_frame(vb_chan_t *ch, int32_t *acc);
void vb_cptone_desc(int tone_id, int *f, int *on_ms, int *off_ms, int *once_ms);

/* ---- wav.c -------------------------------------------------------------------- */
typedef struct {
    int format;                             /* WAVE format tag */
    int channels;
    int rate;
    int bits;
    int64_t data_offset;
    int64_t data_size;                      /* -1: unknown (read to EOF) */
} vb_wav_info_t;

/* Parse a WAV header at the start of fp; leaves fp at the data.  0, or -1 with err set. */
int  vb_wav_parse(FILE *fp, vb_wav_info_t *info, char *err, size_t errlen);
/* Check the format is playable (8 kHz mono A-law/mu-law/PCM16).  0, or -1 with err. */
int  vb_wav_check(const vb_wav_info_t *info, char *err, size_t errlen);
void vb_wav_header_alaw(uint8_t hdr[44], uint32_t data_bytes);

/* ---- recorder.c ----------------------------------------------------------- */
typedef struct {
    vb_rec_t *job;
    uint32_t tag;
    int flags;
    int64_t max_samples;                    /* 0: none */
    int64_t silence_samples;                /* 0: none */
    int64_t samples;
    int64_t silent_run;
} vb_chanrec_t;

vb_writer_t *vb_writer_init(vb_board_t *b);
void vb_writer_free(vb_writer_t *w);        /* closes every job (STOPPED), joins */
vb_rec_t *vb_rec_open(vb_writer_t *w, int chan, uint32_t tag, const char *path);
int  vb_rec_push(vb_writer_t *w, vb_rec_t *r, const uint8_t *data, int n);  /* -1: job failed */
void vb_rec_close(vb_writer_t *w, vb_rec_t *r, int reason, const char *text);
int  vb_writer_jobs(vb_writer_t *w);
void vb_chrec_start(vb_chan_t *ch, uint32_t tag, const char *path, int max_ms, int silence_ms, int flags);
void vb_chrec_stop(vb_chan_t *ch, int reason, const char *text);
void vb_chrec_frame(vb_chan_t *ch);

/* ---- switch.c ------------------------------------------------------------------ */
typedef struct {
    int n;
    int members[VB_MAX_CONF_MEMBERS];
    int32_t sum[VB_N];                      /* rx of every public speaker */
} vb_conf_t;

void vb_sw_connect(vb_board_t *b, int a, int c);
void vb_sw_listen(vb_board_t *b, int l, int t);
void vb_sw_disconnect(vb_board_t *b, int chan);
int  vb_sw_conf_join(vb_board_t *b, int conf, int chan, int flags, int whisper_to);
void vb_sw_conf_leave(vb_board_t *b, int chan);
void vb_sw_conf_mix(vb_board_t *b);         /* per tick, after phase 1 */
void vb_sw_frame(vb_chan_t *ch, int32_t *acc); /* connect + conference contribution */

/* ---- line.c -------------------------------------------------------------------- */
typedef struct {
    /* FXS end (we feed the line) */
    int phone_offhook;                      /* reported */
    int raw_offhook_prev;
    int onhook_ms;                          /* while a reported off-hook phone is on-hook */
    int polarity;
    int battery;
    int ring_active;
    int ring_on_ms, ring_off_ms;
    int ring_state;                         /* 0 pre-CID, 1 burst, 2 pause */
    int ring_ms;                            /* time in ring_state */
    int ring_bursts;
    int ring_bit;
    int cid_format;
    int cid_state;                          /* 0 none, 1 waiting, 2 sending, 3 done */
    int cid_wait_ms;
    uint8_t cid_msg[128];
    int cid_len;
    adsi_tx_state_t *cid_tx;
    /* FXO end (we are the phone) */
    int hook;                               /* 1 off-hook */
    int flash_ms_left;
    int ring_rx;
    int polarity_rx;
    int battery_rx;
    int ring_idle_ms;                       /* since the last ring burst ended */
    int cid_seen;
    adsi_rx_state_t *cid_fsk;
    adsi_rx_state_t *cid_dtmf;
    /* E1 */
    int cas_tx;
    int cas_rx;
} vb_line_t;

void vb_line_init(vb_chan_t *ch);
void vb_line_release(vb_chan_t *ch);
void vb_line_rx(vb_chan_t *ch, int up_changed); /* phase 1: signalling from the far end bits */
void vb_line_cid_rx(vb_chan_t *ch);         /* phase 1: caller-ID receive on FXO */
void vb_line_tx(vb_chan_t *ch, int32_t *acc);  /* phase 2: caller-ID audio, cadence */
uint16_t vb_line_bits(vb_chan_t *ch);       /* phase 4: bits to send */
void vb_line_hook(vb_chan_t *ch, int offhook);
void vb_line_flash(vb_chan_t *ch, int ms);
void vb_line_ring(vb_chan_t *ch, int on_ms, int off_ms, const char *num, const char *name, int fmt);
void vb_line_ring_stop(vb_chan_t *ch);

/* ---- chan.c --------------------------------------------------------------------- */
typedef struct {
    int freq;
    int min_frames;
    int on;                                 /* reported */
    int run;                                /* consecutive present frames */
    int gap;                                /* consecutive absent frames */
    goertzel_descriptor_t desc;
} vb_tonedet_t;

struct vb_chan_s {
    vb_board_t *b;
    int idx;
    int kind;
    /* cable */
    vb_link_t *link;
    int link_line;
    int cut;
    int e1_inject;                          /* E1 fault injection at this end (VB_E1_INJECT_*) */
    int e1_alarm;                           /* E1 alarms seen at this end (VB_E1_ALARM_*), reported */
    int e1_rai_ticks;                       /* consecutive frames with RAI (yellow is integrated) */
    int card;                               /* bound to a DAHDI card channel (dahdi.c) */
    int kind_warned;
    int line_up;                            /* reported */
    uint16_t rx_bits;
    const uint8_t *rx_src;                  /* this tick's 160 A-law bytes from the line, NULL: silence */
    uint8_t *tx_dst;                        /* where phase 4 puts the 160 A-law bytes for the line */
    uint16_t tx_bits;
    /* audio of this tick */
    int rx_active;
    int16_t rx[VB_N];
    int16_t base_tx[VB_N];
    int16_t *tx;                            /* base_tx, or listen_tx when listening */
    int tx_zero;                            /* base_tx is all zero */
    int dst_idle;                           /* tx_dst holds A-law silence */
    int16_t listen_tx[VB_N];
    char digit;                             /* first DTMF digit detected this tick, or 0 */
    int quiet;                              /* consecutive frames below the receivers' gate */
    /* detectors */
    dtmf_rx_state_t dtmf;
    vb_tonedet_t tdet[VB_MAX_TONE_DET];
    int tdet_any;
    super_tone_rx_state_t *cpt;
    int cpt_tone;                           /* vb_tone_id being reported, 0 none */
    /* media */
    vb_play_t play;
    vb_dsend_t dsend;
    vb_chanrec_t rec;
    /* switch */
    int connected_to;
    int listening_to;
    int conf;
    int conf_flags;
    int whisper_to;
    /* signalling */
    vb_line_t line;
};

vb_chan_t *vb_chan_new(vb_board_t *b, int idx, int kind);
void vb_chan_free(vb_chan_t *ch);
void vb_chan_rx(vb_chan_t *ch);             /* phase 1 */
void vb_chan_set_tonedet(vb_chan_t *ch, int slot, int freq, int min_ms);
int  vb_chan_set_cpt(vb_chan_t *ch, int on);
void vb_chan_status_fill(vb_chan_t *ch, vb_chan_status_t *st);

/* ---- sim_link.c ------------------------------------------------------------- */
enum { VB_LINK_PAIR = 1, VB_LINK_LISTEN = 2, VB_LINK_CONNECT = 3 };

vb_link_t *vb_link_new(vb_board_t *b, int id, int mode, int first, int n, int fd, const char *path);
void vb_link_free(vb_link_t *l);
void vb_link_attach(vb_link_t *l);          /* media thread: bind the lines to their channels */
void vb_link_rx(vb_link_t *l);              /* per tick, before phase 1 */
void vb_link_tx(vb_link_t *l);              /* per tick, after phase 4 */
int  vb_link_alive(vb_link_t *l);

/* ---- cmd.c ------------------------------------------------------------------------ */
enum {
    VB_CMD_ADD_CHANNELS = 1, VB_CMD_PLAY, VB_CMD_PLAY_STOP, VB_CMD_SEND_DTMF, VB_CMD_RECORD,
    VB_CMD_RECORD_STOP, VB_CMD_CONNECT, VB_CMD_LISTEN, VB_CMD_DISCONNECT, VB_CMD_CONF_JOIN,
    VB_CMD_CONF_LEAVE, VB_CMD_CPT, VB_CMD_TONEDET, VB_CMD_RESET, VB_CMD_HOOK, VB_CMD_FLASH,
    VB_CMD_RING, VB_CMD_RING_STOP, VB_CMD_POLARITY, VB_CMD_BATTERY, VB_CMD_CAS, VB_CMD_LINK_ADD,
    VB_CMD_LINK_CUT, VB_CMD_E1_INJECT,
};

struct vb_cmd_s {
    vb_cmd_t *next;
    int op;
    int chan;
    uint32_t tag;
    int a[6];
    char *s1;
    char *s2;
    vb_play_item_t *items;
    int n;
    void *ptr;
};

void vb_cmd_apply(vb_board_t *b, vb_cmd_t *c);
void vb_cmd_free(vb_cmd_t *c);

/* ---- the board (engine.c) ------------------------------------------------------- */
struct vb_board_s {
    char name[32];
    /* channels: chans[] is filled by the controlling thread; nchan is the media
       thread's view (raised by VB_CMD_ADD_CHANNELS) */
    vb_chan_t *chans[VB_MAX_CHANNELS];
    int nchan;
    /* controlling thread's shadow state (validation) */
    int ctl_nchan;
    int ctl_kind[VB_MAX_CHANNELS];
    int ctl_linked[VB_MAX_CHANNELS];
    int ctl_conf[VB_MAX_CHANNELS];
    int ctl_conf_count[VB_MAX_CONFS];
    int ctl_nlinks;
    /* fds, thread */
    int clock_fd;
    int event_fd;
    int stop_fd;
    pthread_t thread;
    int running;
    int64_t cpu_base;
    /* commands */
    pthread_mutex_t cmd_lock;
    vb_cmd_t *cmd_head;
    vb_cmd_t *cmd_tail;
    int cmd_count;
    /* events */
    vb_evq_t evq;
    atomic_int ev_added;
    atomic_int log_level;
    /* stats and status snapshots (st_lock) */
    pthread_mutex_t st_lock;
    vb_board_stats_t stats;
    vb_chan_status_t status[VB_MAX_CHANNELS];
    /* media thread state */
    uint64_t tick;
    int64_t now_ms;
    vb_conf_t confs[VB_MAX_CONFS];
    vb_link_t *links[VB_MAX_LINKS];
    int nlinks;
    uint64_t link_underruns;
    uint64_t link_overruns;
    int active_plays;
    /* recording */
    vb_writer_t *writer;
    atomic_int open_files;
    atomic_uint_fast64_t rec_bytes_dropped;
    /* scratch */
    int32_t acc[VB_N];
};

int vb_cmd_queue(vb_board_t *b, vb_cmd_t *c); /* takes ownership; 0 or -VB_EFULL */
vb_cmd_t *vb_cmd_new(int op, int chan);

/* shared call-progress detector descriptor (built once) */
super_tone_rx_descriptor_t *vb_cpt_descriptor(int *ids, int nids);
extern const int vb_cpt_tone_ids[8];

#endif
