/*
 * vb.h - Rexian media engine: the one C interface of the voice boards.
 *
 * A board is a set of channels (E1 trunk timeslots, FXO trunk lines, FXS
 * station ports) and a 20 ms media tick.  Per channel per tick the engine
 * plays (files, tones, DTMF), records (A-law WAV, written by a writer
 * thread), detects (DTMF, call-progress tones, caller ID, single tones),
 * switches (connect, listen, conference with whisper) and carries the line
 * signalling (hook, ring, polarity, battery, CAS bits).
 *
 * Backends: the simulated board carries each channel over a virtual cable
 * (a "link": a SOCK_SEQPACKET socket bundling N lines) to a channel of
 * another board in the opposite role: FXO <-> FXS, E1 <-> E1.
 *
 * Threading model (the shape of a DSP voice board):
 *   - vb_board_process() runs the due ticks and never blocks.  It is called
 *     by the board's own media thread (vb_board_start) when the clock fd
 *     (a timerfd) expires.  The library exposes the fd; the loop is the
 *     runner's, not the library's.
 *   - Every command (vb_play, vb_hook, ...) validates its arguments, queues
 *     itself and returns at once: 0, or a negative VB_E* code.  Its outcome
 *     is an event.  Commands may be called from one controlling thread.
 *   - Events go out through a ring buffer; the event fd (an eventfd) is
 *     readable while events are pending.  vb_board_get_events() drains.
 *   - File I/O for recordings happens on a writer thread, never in the tick.
 *
 * Naming follows spandsp: <mod>_init/_release/_free, opaque typedefs.
 */
#ifndef REXIAN_VB_H
#define REXIAN_VB_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VB_TICK_MS          20
#define VB_FRAME_SAMPLES    160          /* 20 ms at 8 kHz */
#define VB_MAX_CHANNELS     256
#define VB_MAX_CONFS        64
#define VB_MAX_CONF_MEMBERS 16
#define VB_MAX_TONE_DET     4            /* custom single-tone detectors per channel */
#define VB_EVENT_TEXT       80

typedef struct vb_board_s vb_board_t;

/* ---- error codes (returned negated) ---------------------------------- */
enum {
    VB_OK = 0,
    VB_EINVAL = 1,      /* bad argument */
    VB_ECHAN = 2,       /* no such channel */
    VB_EKIND = 3,       /* operation not valid for this channel kind */
    VB_EFULL = 4,       /* command queue / table full */
    VB_ESTATE = 5,      /* board not in a state for this (e.g. not started) */
    VB_ESYS = 6,        /* a system call failed (errno kept in vb_last_errno) */
    VB_ELINK = 7,       /* link error: kinds do not pair, channel already linked */
    VB_EFILE = 8,       /* bad or unreadable file */
};

/* ---- channel kinds ---------------------------------------------------- */
enum vb_kind {
    VB_KIND_FXO = 1,    /* trunk to the central office; we are the "phone" end */
    VB_KIND_FXS = 2,    /* station port: we feed battery and ring the phone   */
    VB_KIND_E1 = 3,     /* one E1 timeslot with CAS ABCD bits                  */
};

/* ---- events ----------------------------------------------------------- */
enum vb_event_type {
    VB_EV_DTMF = 1,         /* arg = digit char ('0'-'9','*','#','A'-'D')                 */
    VB_EV_PLAY_DONE = 2,    /* tag; arg = vb_play_reason; arg2 = digit on barge-in        */
    VB_EV_PLAY_ERROR = 3,   /* tag; arg = item index; text = reason (play goes on)         */
    VB_EV_RECORD_DONE = 4,  /* tag; arg = vb_rec_reason; arg2 = duration ms; text = reason */
    VB_EV_HOOK = 5,         /* FXS: the phone's hook; arg = 1 off-hook, 0 on-hook          */
    VB_EV_FLASH = 6,        /* FXS: hook-flash (on-hook 80..VB_FLASH_MAX_MS then off-hook) */
    VB_EV_RING = 7,         /* FXO: ring voltage; arg = 1 burst started, 0 burst ended     */
    VB_EV_CALLERID = 8,     /* FXO: arg = vb_cid_format; text = "number\tname"             */
    VB_EV_POLARITY = 9,     /* FXO: arg = 1 reversed, 0 normal                             */
    VB_EV_TONE = 10,        /* arg = tone id (vb_tone_id) or Hz for custom; arg2 = 1 on, 0 off */
    VB_EV_LINE = 11,        /* line status; arg = 1 up, 0 down (cable cut, link lost, no battery) */
    VB_EV_CAS = 12,         /* E1: arg = received ABCD bits (0..15)                        */
    VB_EV_DIGITS_SENT = 13, /* tag: a vb_send_dtmf string has been sent                    */
    VB_EV_CMD_ERROR = 14,   /* tag; arg = VB_E* code; text = reason                        */
    VB_EV_LOG = 15,         /* arg = level (0 error,1 warning,2 info,3 debug); text = message */
    VB_EV_OVERFLOW = 16,    /* arg = number of events lost because the ring was full       */
    VB_EV_ENERGY = 17,      /* reserved */
    VB_EV_ALARM = 18,       /* E1: arg = alarms now (VB_E1_ALARM_* mask, 0 = cleared)          */
};

enum vb_play_reason {
    VB_PLAY_END = 0,        /* every item played */
    VB_PLAY_BARGE_IN = 1,   /* stopped by a DTMF digit (arg2) */
    VB_PLAY_STOPPED = 2,    /* vb_play_stop, a newer vb_play, or channel reset */
};

enum vb_rec_reason {
    VB_REC_MAXTIME = 0,
    VB_REC_SILENCE = 1,
    VB_REC_DTMF = 2,        /* a terminating digit (not written to the file's end) */
    VB_REC_STOPPED = 3,     /* vb_record_stop or channel reset */
    VB_REC_ERROR = 4,       /* could not open/write: text says why */
};

enum vb_cid_format {
    VB_CID_FSK = 1,         /* Bell 202 FSK MDMF (spandsp ADSI_STANDARD_CLASS), after the first ring */
    VB_CID_DTMF = 2,        /* DTMF CLIP (ADSI_STANDARD_CLIP_DTMF), before the first ring            */
};

enum vb_tone_id {            /* call-progress tones (China: 450 Hz) for play and detection */
    VB_TONE_DIAL = 1,       /* 450 Hz continuous                */
    VB_TONE_RINGBACK = 2,   /* 450 Hz 1 s on / 4 s off          */
    VB_TONE_BUSY = 3,       /* 450 Hz 350 ms on / 350 ms off    */
    VB_TONE_CONGESTION = 4, /* 450 Hz 700 ms on / 700 ms off    */
    VB_TONE_BEEP = 5,       /* 1000 Hz 300 ms once (record beep) */
    VB_TONE_CALLWAIT = 6,   /* 450 Hz 400 ms on / 4 s off        */
};

typedef struct {
    uint32_t type;          /* vb_event_type */
    int32_t chan;           /* channel index, -1 for the board */
    uint32_t tag;           /* the tag of the command this answers, else 0 */
    int32_t arg;
    int32_t arg2;
    int64_t time_ms;        /* CLOCK_MONOTONIC in ms when it happened */
    char text[VB_EVENT_TEXT];
} vb_event_t;

/* ---- play items --------------------------------------------------------- */
enum vb_item_type {
    VB_ITEM_FILE = 1,       /* WAV: A-law, mu-law or 16-bit PCM, 8 kHz mono */
    VB_ITEM_TONE = 2,       /* f1 (+f2) at level_dbm0, cadence on/off, total duration_ms (0 = forever) */
    VB_ITEM_DTMF = 3,       /* digits, on_ms/off_ms (0 = 80/80 default) */
    VB_ITEM_SILENCE = 4,    /* duration_ms */
    VB_ITEM_CPTONE = 5,     /* tone_id (vb_tone_id), duration_ms (0 = until stopped) */
};

typedef struct {
    int type;
    const char *path;       /* FILE */
    const char *digits;     /* DTMF */
    int tone_id;            /* CPTONE */
    int f1, f2;             /* TONE, Hz (f2 = 0: single) */
    int level_dbm0;         /* TONE, e.g. -10 */
    int on_ms, off_ms;      /* TONE cadence (off_ms = 0: continuous); DTMF timing */
    int duration_ms;        /* TONE, SILENCE, CPTONE total */
} vb_play_item_t;

#define VB_PLAY_BARGE_IN  0x01   /* a detected DTMF digit stops the play */
#define VB_PLAY_MAX_ITEMS 32

#define VB_REC_STOP_ON_DTMF 0x01 /* '#' (or any digit if VB_REC_ANY_DIGIT) ends the recording */
#define VB_REC_ANY_DIGIT    0x02
#define VB_REC_RX_ONLY      0x04 /* only what the far end says (default: both directions mixed) */

enum vb_conf_flags {
    VB_CONF_SPEAK = 0x01,   /* the others hear this member */
    VB_CONF_LISTEN = 0x02,  /* this member hears the others */
};

#define VB_FLASH_MIN_MS   80
#define VB_FLASH_MAX_MS  600

/* ---- status ------------------------------------------------------------- */
typedef struct {
    int kind;
    int linked;             /* 1 if a cable is attached */
    int line_up;            /* cable present and not cut (and, on FXO, battery present) */
    int hook;               /* FXO: our hook; FXS: the phone's hook (1 = off-hook) */
    int ringing;            /* FXS: ring cadence active; FXO: ring voltage present now */
    int polarity;           /* 1 = reversed */
    int cas_tx, cas_rx;     /* E1 ABCD bits */
    int playing;            /* 1 while a play is active */
    int recording;          /* 1 while a recording is active */
    int connected_to;       /* channel index this one is connected to (full duplex), -1 */
    int listening_to;       /* channel index this one listens to, -1 */
    int conf;               /* conference id, -1 */
    int alarm;              /* E1: VB_E1_ALARM_* now */
} vb_chan_status_t;

typedef struct {
    uint64_t ticks;             /* ticks processed */
    uint64_t missed_ticks;      /* timer expirations beyond one per wake-up (late ticks) */
    uint64_t cpu_ns;            /* CPU time of the media thread */
    uint64_t tick_ns_max;       /* longest tick */
    uint64_t tick_ns_total;     /* sum of tick durations */
    uint64_t events_lost;
    uint64_t link_underruns;    /* ticks where a link had no frame from the far end */
    uint64_t link_overruns;     /* frames dropped because too many were queued */
    uint64_t rec_bytes_dropped; /* recording bytes the writer could not keep up with */
    int active_plays;
    int active_records;
    int open_files;             /* play + record files open right now */
    int connections;            /* channels with a switch connection or listen */
    int conf_members;
    int channels;
} vb_board_stats_t;

/* ---- board ---------------------------------------------------------------- */
vb_board_t *vb_board_init(const char *name);
int  vb_board_add_channels(vb_board_t *b, int kind, int count);  /* >= 0: first index */
int  vb_board_channel_count(vb_board_t *b);
int  vb_board_channel_kind(vb_board_t *b, int chan);
int  vb_board_start(vb_board_t *b);      /* start the media thread on the board clock */
int  vb_board_stop(vb_board_t *b);       /* stop the media thread (joins) */
void vb_board_free(vb_board_t *b);       /* stops, closes links, frees */
int  vb_board_event_fd(vb_board_t *b);   /* eventfd: readable while events pending */
int  vb_board_clock_fd(vb_board_t *b);   /* timerfd of the 20 ms clock */
int  vb_board_process(vb_board_t *b);    /* run due ticks; never blocks; returns ticks run */
int  vb_board_get_events(vb_board_t *b, vb_event_t *ev, int max); /* drains; returns count */
int  vb_board_stats(vb_board_t *b, vb_board_stats_t *st);
int  vb_chan_status(vb_board_t *b, int chan, vb_chan_status_t *st);
void vb_board_set_log_level(vb_board_t *b, int level); /* VB_EV_LOG up to this level */
int  vb_last_errno(void);

/* ---- media commands (queued; outcome is an event) -------------------------- */
int vb_play(vb_board_t *b, int chan, uint32_t tag, const vb_play_item_t *items, int n, int flags);
int vb_play_stop(vb_board_t *b, int chan);
int vb_send_dtmf(vb_board_t *b, int chan, uint32_t tag, const char *digits, int on_ms, int off_ms);
int vb_record_start(vb_board_t *b, int chan, uint32_t tag, const char *path,
                    int max_ms, int silence_ms, int flags);
int vb_record_stop(vb_board_t *b, int chan);
int vb_connect(vb_board_t *b, int a, int c);          /* full duplex */
int vb_listen(vb_board_t *b, int listener, int target); /* listener hears both sides of target */
int vb_disconnect(vb_board_t *b, int chan);            /* drop connect/listen involving chan */
int vb_conf_join(vb_board_t *b, int conf, int chan, int flags, int whisper_to);
                                                       /* whisper_to >= 0: only that member hears chan */
int vb_conf_leave(vb_board_t *b, int chan);
int vb_detect_cptones(vb_board_t *b, int chan, int on); /* busy/ringback/dial/congestion -> VB_EV_TONE */
int vb_detect_tone(vb_board_t *b, int chan, int slot, int freq_hz, int min_ms);
                                                       /* freq_hz = 0 disables slot; events arg = freq */
int vb_chan_reset(vb_board_t *b, int chan);            /* stop play/record/dtmf, leave switch+conf */

/* ---- line signalling -------------------------------------------------------- */
int vb_hook(vb_board_t *b, int chan, int offhook);     /* FXO: 1 off-hook, 0 on-hook */
int vb_flash(vb_board_t *b, int chan, int ms);         /* FXO: hook-flash of ms (0 = 300) */
int vb_ring(vb_board_t *b, int chan, int on_ms, int off_ms,
            const char *cid_number, const char *cid_name, int cid_format);
                                                       /* FXS: ring cadence (0,0 = China 1000/4000);
                                                          CID: DTMF before / FSK after the first burst.
                                                          Stops by itself when the phone goes off-hook. */
int vb_ring_stop(vb_board_t *b, int chan);
int vb_polarity(vb_board_t *b, int chan, int reversed);/* FXS */
int vb_battery(vb_board_t *b, int chan, int on);       /* FXS: open loop (off) / feed (on) */
int vb_cas_tx(vb_board_t *b, int chan, int abcd);      /* E1 */

/* E1 span alarms, per timeslot channel (a span is a group of channels on one cable).
   The receiving end sees: RED = loss of signal (no frames: cable cut or the far end's
   transmitter off), BLUE = AIS received, YELLOW = RAI received.  An end in red or blue
   alarm sends RAI by itself, as a framer does. */
enum {
    VB_E1_ALARM_RED = 1,
    VB_E1_ALARM_BLUE = 2,
    VB_E1_ALARM_YELLOW = 4,
};
enum {
    VB_E1_INJECT_LOS = 1,   /* this end's transmitter sends nothing (the far end goes red) */
    VB_E1_INJECT_AIS = 2,   /* this end sends AIS (the far end goes blue) */
    VB_E1_INJECT_RAI = 4,   /* this end sends RAI (the far end goes yellow) */
};
int vb_e1_inject(vb_board_t *b, int chan, int flags);  /* 0 clears */

/* ---- links (virtual cables) ---------------------------------------------- */
/* In process: one socketpair between b1[first1..first1+n) and b2[first2..). */
int vb_link_pair(vb_board_t *b1, int first1, vb_board_t *b2, int first2, int n);
/* Across processes: the appliance listens on a Unix socket path; the far side connects.
   Returns a link id >= 0.  A listening link is "down" until the far side connects and
   comes down again (VB_EV_LINE 0 on all its lines) when the far side goes away. */
int vb_link_listen(vb_board_t *b, int first, int n, const char *path);
int vb_link_connect(vb_board_t *b, int first, int n, const char *path);
int vb_link_cut(vb_board_t *b, int chan, int cut);     /* cut / mend one line at this end */

/* ---- utilities ---------------------------------------------------------------- */
/* Write an 8 kHz A-law WAV holding DTMF digits (test prompts). */
int vb_util_dtmf_wav(const char *path, const char *digits, int on_ms, int off_ms, int lead_ms);
/* Check a WAV file is playable; fills rate/channels/format/ms.  0 or -VB_EFILE. */
int vb_util_wav_info(const char *path, int *rate, int *channels, int *format, int *duration_ms);
/* Decode an A-law WAV written by the recorder; returns samples read, or -VB_EFILE. */
int vb_util_wav_read(const char *path, int16_t *out, int max_samples);
/* Bare floor for benchmarks: for nchan channels and nticks ticks, run spandsp
   g711 decode + dtmf_rx + g711 encode + write(2) of the frames to fd (-1: no write).
   Returns elapsed CPU ns. */
int64_t vb_util_bench_floor(int nchan, int nticks, int fd);

#ifdef __cplusplus
}
#endif
#endif
