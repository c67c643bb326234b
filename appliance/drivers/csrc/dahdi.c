/*
 * dahdi.c - the real-card backend: engine channels bound to DAHDI channels.
 *
 *   vb_dahdi_bind(b, chan, channo, dev)   open dev (/dev/dahdi/channel), SPECIFY channo,
 *                                         blocksize 160, A-law, check the signalling type
 *   vb_dahdi_unbind(b, chan)              close; the channel's line goes down
 *
 * Per tick (media thread, never blocking: the fd is O_NONBLOCK):
 *   rx  read one block (ELAST: GETEVENT, handle, read again; EAGAIN: underrun,
 *       silence), then turn the line state DAHDI reported into the bits word a
 *       cable would carry (VB_BIT_*), so line.c runs as over a simulated cable;
 *   tx  after phase 4: turn the changes of the channel's bits word into DAHDI
 *       ioctls (HOOK, SETTXBITS, SETPOLARITY), then write the block.
 *
 * DAHDI's naming is inverted: our FXO trunk port is FXS-signalled
 * (DAHDI_SIG_FXSKS/FXSLS), our FXS station port FXO-signalled (FXOKS/FXOLS).
 *
 * Threads: bind, unbind and stats run on the controlling thread; the tick on
 * the media thread.  One mutex per board guards the table; the media thread
 * holds it while it does the (non-blocking) I/O of a tick.
 */
#include "vb_internal.h"
#include "dahdi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <dahdi/user.h>

#define DEFAULT_DEVICE      "/dev/dahdi/channel"
#define MAX_EVENTS_TICK     16      /* GETEVENTs per fd per tick at most */
#define FLASH_TICKS         (200 / VB_TICK_MS)  /* a WINKFLASH: the phone on-hook this long */
#define KEWL_TICKS          (300 / VB_TICK_MS)  /* an ONHOOK on a trunk: battery absent this long */

typedef struct {
    int chan;
    int kind;
    int channo;
    int fd;                     /* -1 once unbound */
    const vb_dahdi_ops_t *ops;
    int attached;               /* the media thread uses it */
    int detach;                 /* unbound: the media thread lets go of it */
    uint8_t rx[VB_N];
    uint8_t tx[VB_N];
    /* line state as DAHDI reported it */
    int alarm;
    int phone_offhook;          /* FXS port */
    int flash_ticks;
    int ring;                   /* FXO port */
    int ring_pulse;
    int polarity;
    int kewl_ticks;
    int cas_rx;                 /* E1 */
    /* what we last asked DAHDI for */
    int hook_tx;
    int flashing;
    int ring_tx;
    int pol_tx;
    int battery_tx;
    int cas_tx;                 /* -1: not sent yet */
    vb_dahdi_card_stats_t st;
} dchan_t;

struct vb_dcard_s {
    vb_board_t *b;
    pthread_mutex_t lock;
    dchan_t *ch[VB_MAX_CHANNELS];
};

/* the card tables by board (made on a board's first bind; the board itself has no field for it) */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static vb_dcard_t *g_cards[64];
static vb_board_t *g_boards[64];
static int g_use_fake;
static char g_error[160];

/* ---- the real system calls ------------------------------------------------------ */

static int sys_open(const char *path, int flags)
{
    return open(path, flags);
}

static int sys_ioctl(int fd, unsigned long req, void *arg)
{
    return ioctl(fd, req, arg);
}

static const vb_dahdi_ops_t sys_ops = {
    "kernel", sys_open, close, sys_ioctl, read, write,
};

int vb_dahdi_card_use_fake(int on)
{
    g_use_fake = on ? 1 : 0;
    return 0;
}

const char *vb_dahdi_card_error(void)
{
    return g_error;
}

const char *vb_dahdi_card_signame(int sig)
{
    switch (sig) {
    case DAHDI_SIG_NONE: return "none (not configured)";
    case DAHDI_SIG_FXSLS: return "FXSLS";
    case DAHDI_SIG_FXSGS: return "FXSGS";
    case DAHDI_SIG_FXSKS: return "FXSKS";
    case DAHDI_SIG_FXOLS: return "FXOLS";
    case DAHDI_SIG_FXOGS: return "FXOGS";
    case DAHDI_SIG_FXOKS: return "FXOKS";
    case DAHDI_SIG_CAS: return "CAS";
    case DAHDI_SIG_CLEAR: return "clear";
    default: return "other";
    }
}

/* ---- the card table ---------------------------------------------------------------- */

static vb_dcard_t *card_of(vb_board_t *b, int create)
{
    vb_dcard_t *c = NULL;
    int i;
    int free_slot = -1;

    pthread_mutex_lock(&g_lock);
    for (i = 0; i < 64; i++) {
        if (g_boards[i] == b) {
            c = g_cards[i];
            break;
        }
        if (g_boards[i] == NULL && free_slot < 0)
            free_slot = i;
    }
    if (c == NULL && create && free_slot >= 0 && (c = calloc(1, sizeof(*c))) != NULL) {
        c->b = b;
        pthread_mutex_init(&c->lock, NULL);
        g_cards[free_slot] = c;
        g_boards[free_slot] = b;
    }
    pthread_mutex_unlock(&g_lock);
    return c;
}

static int sig_fits(int kind, int sig)
{
    switch (kind) {
    case VB_KIND_FXO:
        return sig == DAHDI_SIG_FXSKS || sig == DAHDI_SIG_FXSLS;
    case VB_KIND_FXS:
        return sig == DAHDI_SIG_FXOKS || sig == DAHDI_SIG_FXOLS;
    case VB_KIND_E1:
        return sig == DAHDI_SIG_CAS;
    }
    return 0;
}

static const char *kind_name(int kind)
{
    return kind == VB_KIND_FXO ? "FXO trunk" : kind == VB_KIND_FXS ? "FXS station" : "E1";
}

static int bind_fail(vb_board_t *b, int chan, const vb_dahdi_ops_t *ops, int fd, int rc, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int bind_fail(vb_board_t *b, int chan, const vb_dahdi_ops_t *ops, int fd, int rc, const char *fmt, ...)
{
    va_list ap;
    int e = errno;

    va_start(ap, fmt);
    vsnprintf(g_error, sizeof(g_error), fmt, ap);
    va_end(ap);
    vb_log(b, chan, 0, "dahdi: %s", g_error);
    if (fd >= 0)
        ops->close(fd);
    if (rc == -VB_ESYS)
        vb_set_errno(e);
    return rc;
}

/* Open and set up the DAHDI channel; returns the fd or a negative VB_E* code. */
static int open_channel(vb_board_t *b, int chan, int kind, int channo, const char *dev,
                        const vb_dahdi_ops_t *ops, struct dahdi_params *p)
{
    int fd;
    int v;
    char eb[64];

    if ((fd = ops->open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
        return bind_fail(b, chan, ops, -1, -VB_ESYS, "cannot open %s: %s", dev,
                         vb_strerror(errno, eb, sizeof(eb)));
    v = channo;
    if (ops->ioctl(fd, DAHDI_SPECIFY, &v) < 0)
        return bind_fail(b, chan, ops, fd, -VB_ESYS, "DAHDI channel %d: SPECIFY: %s", channo,
                         vb_strerror(errno, eb, sizeof(eb)));
    v = VB_N;
    if (ops->ioctl(fd, DAHDI_SET_BLOCKSIZE, &v) < 0)
        return bind_fail(b, chan, ops, fd, -VB_ESYS, "DAHDI channel %d: SET_BLOCKSIZE 160: %s", channo,
                         vb_strerror(errno, eb, sizeof(eb)));
    v = DAHDI_LAW_ALAW;
    if (ops->ioctl(fd, DAHDI_SETLAW, &v) < 0)
        return bind_fail(b, chan, ops, fd, -VB_ESYS, "DAHDI channel %d: SETLAW A-law: %s", channo,
                         vb_strerror(errno, eb, sizeof(eb)));
    memset(p, 0, sizeof(*p));
    p->channo = channo;
    if (ops->ioctl(fd, DAHDI_GET_PARAMS, p) < 0)
        return bind_fail(b, chan, ops, fd, -VB_ESYS, "DAHDI channel %d: GET_PARAMS: %s", channo,
                         vb_strerror(errno, eb, sizeof(eb)));
    if (!sig_fits(kind, p->sigtype))
        return bind_fail(b, chan, ops, fd, -VB_EKIND,
                         "DAHDI channel %d has signalling %s, which does not fit engine channel %d "
                         "(%s port wants %s)", channo, vb_dahdi_card_signame(p->sigtype), chan,
                         kind_name(kind), kind == VB_KIND_FXO ? "FXSKS/FXSLS"
                         : kind == VB_KIND_FXS ? "FXOKS/FXOLS" : "CAS");
    if (p->curlaw != DAHDI_LAW_ALAW)
        return bind_fail(b, chan, ops, fd, -VB_EKIND, "DAHDI channel %d stays in law %d, not A-law",
                         channo, p->curlaw);
    return fd;
}

int vb_dahdi_bind(vb_board_t *b, int chan, int channo, const char *device)
{
    const vb_dahdi_ops_t *ops = g_use_fake ? vb_dahdi_fake_ops() : &sys_ops;
    struct dahdi_params p;
    vb_dcard_t *c;
    dchan_t *d;
    int kind;
    int fd;

    g_error[0] = '\0';
    if (b == NULL || channo <= 0)
        return -VB_EINVAL;
    if (chan < 0 || chan >= b->ctl_nchan)
        return -VB_ECHAN;
    if (b->ctl_linked[chan]) {
        snprintf(g_error, sizeof(g_error), "engine channel %d is already cabled or bound", chan);
        return -VB_ELINK;
    }
    if ((c = card_of(b, 1)) == NULL || (d = calloc(1, sizeof(*d))) == NULL) {
        vb_set_errno(ENOMEM);
        return -VB_ESYS;
    }
    kind = b->ctl_kind[chan];
    if ((fd = open_channel(b, chan, kind, channo, device ? device : DEFAULT_DEVICE, ops, &p)) < 0) {
        free(d);
        return fd;
    }
    d->chan = chan;
    d->kind = kind;
    d->channo = channo;
    d->fd = fd;
    d->ops = ops;
    d->alarm = (int) p.chan_alarms;
    d->phone_offhook = kind == VB_KIND_FXS && p.rxisoffhook;
    d->cas_rx = p.rxbits & 0xF;
    d->hook_tx = 0;
    d->battery_tx = 1;
    d->cas_tx = -1;
    d->st.bound = 1;
    d->st.channo = channo;
    d->st.sigtype = p.sigtype;
    d->st.alarm = d->alarm;
    memset(d->rx, VB_ALAW_SILENCE, VB_N);
    memset(d->tx, VB_ALAW_SILENCE, VB_N);
    pthread_mutex_lock(&c->lock);
    c->ch[chan] = d;
    pthread_mutex_unlock(&c->lock);
    b->ctl_linked[chan] = 1;
    vb_log(b, chan, 2, "dahdi: bound to DAHDI channel %d (%s, span %d pos %d)%s", channo,
           vb_dahdi_card_signame(p.sigtype), p.spanno, p.chanpos, d->alarm ? ", in alarm" : "");
    return 0;
}

int vb_dahdi_unbind(vb_board_t *b, int chan)
{
    vb_dcard_t *c;
    dchan_t *d;
    int rc = 0;

    if (b == NULL)
        return -VB_EINVAL;
    if (chan < 0 || chan >= b->ctl_nchan)
        return -VB_ECHAN;
    if ((c = card_of(b, 0)) == NULL)
        return -VB_ELINK;
    pthread_mutex_lock(&c->lock);
    d = c->ch[chan];
    if (d == NULL || d->detach) {
        rc = -VB_ELINK;
    } else {
        d->ops->close(d->fd);
        d->fd = -1;
        d->detach = 1;
        d->st.bound = 0;
        b->ctl_linked[chan] = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int vb_dahdi_card_stats(vb_board_t *b, int chan, vb_dahdi_card_stats_t *st)
{
    vb_dcard_t *c;
    dchan_t *d;

    if (b == NULL || st == NULL)
        return -VB_EINVAL;
    if (chan < 0 || chan >= b->ctl_nchan)
        return -VB_ECHAN;
    memset(st, 0, sizeof(*st));
    if ((c = card_of(b, 0)) == NULL)
        return 0;
    pthread_mutex_lock(&c->lock);
    if ((d = c->ch[chan]) != NULL)
        *st = d->st;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* ---- media thread: events ------------------------------------------------------ */

static void on_event(vb_board_t *b, dchan_t *d, int ev)
{
    struct dahdi_params p;
    int bits;

    d->st.events++;
    d->st.last_event = ev;
    if (ev & (DAHDI_EVENT_DTMFDOWN | DAHDI_EVENT_DTMFUP))
        return;                 /* the engine detects DTMF itself */
    switch (ev) {
    case DAHDI_EVENT_ALARM:
        d->alarm = DAHDI_ALARM_RED;         /* unless the channel says which */
        if (d->ops->ioctl(d->fd, DAHDI_GET_PARAMS, &p) == 0 && p.chan_alarms != 0)
            d->alarm = (int) p.chan_alarms;
        break;
    case DAHDI_EVENT_NOALARM:
        d->alarm = 0;
        break;
    case DAHDI_EVENT_BITSCHANGED:
        if (d->ops->ioctl(d->fd, DAHDI_GETRXBITS, &bits) == 0)
            d->cas_rx = bits & 0xF;
        else
            d->st.ioctl_errors++;
        break;
    case DAHDI_EVENT_RINGOFFHOOK:
        if (d->kind == VB_KIND_FXS) {
            d->phone_offhook = 1;       /* the phone went off-hook (or rang trip) */
        } else if (d->kind == VB_KIND_FXO) {
            /* on an FXS-signalled channel DAHDI reports a ring burst when it has ended */
            if (d->ring)
                d->ring = 0;
            else
                d->ring_pulse = 1;
        }
        break;
    case DAHDI_EVENT_RINGBEGIN:
        if (d->kind == VB_KIND_FXO)
            d->ring = 1;
        break;
    case DAHDI_EVENT_ONHOOK:
        if (d->kind == VB_KIND_FXS)
            d->phone_offhook = 0;
        else if (d->kind == VB_KIND_FXO)
            d->kewl_ticks = KEWL_TICKS; /* loop current dropped: the far end cleared */
        break;
    case DAHDI_EVENT_WINKFLASH:
        if (d->kind == VB_KIND_FXS && d->phone_offhook)
            d->flash_ticks = FLASH_TICKS;
        break;
    case DAHDI_EVENT_POLARITY:
        if (d->kind == VB_KIND_FXO)
            d->polarity = !d->polarity;
        break;
    default:
        vb_log(b, d->chan, 3, "dahdi: event %d ignored", ev);
        break;
    }
}

/* Take the pending events; returns how many. */
static int take_events(vb_board_t *b, dchan_t *d)
{
    int ev;
    int n = 0;

    while (n < MAX_EVENTS_TICK) {
        ev = 0;
        if (d->ops->ioctl(d->fd, DAHDI_GETEVENT, &ev) < 0) {
            d->st.ioctl_errors++;
            break;
        }
        if (ev == DAHDI_EVENT_NONE)
            break;
        on_event(b, d, ev);
        n++;
    }
    return n;
}

/* ---- media thread: the tick ------------------------------------------------------- */

static void attach(vb_board_t *b, dchan_t *d)
{
    vb_chan_t *ch = b->chans[d->chan];

    ch->card = 1;
    ch->rx_src = NULL;
    ch->tx_dst = d->tx;
    ch->dst_idle = 1;
    d->attached = 1;
}

static void detach(vb_board_t *b, dchan_t *d)
{
    vb_chan_t *ch = b->chans[d->chan];

    if (d->attached) {
        ch->card = 0;
        ch->rx_src = NULL;
        ch->tx_dst = NULL;
        ch->rx_bits = 0;
    }
}

static void read_block(vb_board_t *b, dchan_t *d, int *have)
{
    ssize_t r;
    int tries;

    *have = 0;
    for (tries = 0; tries <= MAX_EVENTS_TICK; tries++) {
        r = d->ops->read(d->fd, d->rx, VB_N);
        if (r > 0) {
            if (r < VB_N) {
                memset(d->rx + r, VB_ALAW_SILENCE, (size_t) (VB_N - r));
                d->st.short_reads++;
            }
            d->st.reads++;
            *have = 1;
            return;
        }
        if (r < 0 && errno == ELAST) {
            d->st.elast++;
            if (take_events(b, d) == 0)
                return;
            continue;
        }
        if (r == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
            d->st.underruns++;
        } else if (errno != EINTR) {
            if (d->st.read_errors++ == 0)
                vb_log(b, d->chan, 0, "dahdi: read on channel %d: %s", d->channo, strerror(errno));
        }
        return;
    }
}

static uint16_t rx_bits(dchan_t *d)
{
    uint16_t bits = (uint16_t) (((d->kind == VB_KIND_FXO ? VB_KIND_FXS
                                  : d->kind == VB_KIND_FXS ? VB_KIND_FXO : VB_KIND_E1) & 3)
                                << VB_BIT_KIND_SHIFT);

    if (d->kind == VB_KIND_E1 && d->alarm && !(d->alarm & ~(DAHDI_ALARM_BLUE | DAHDI_ALARM_YELLOW))) {
        /* the framer has frames: blue (AIS) and yellow (RAI) reach the engine as on the cable */
        bits |= VB_BIT_PRESENT | ((d->alarm & DAHDI_ALARM_BLUE) ? VB_BIT_AIS : VB_BIT_RAI);
        return (uint16_t) (bits | ((d->cas_rx & 0xF) << VB_BIT_CAS_SHIFT));
    }
    if (d->alarm)
        return bits;
    bits |= VB_BIT_PRESENT;
    switch (d->kind) {
    case VB_KIND_FXS:
        if (d->phone_offhook && d->flash_ticks == 0)
            bits |= VB_BIT_HOOK;
        break;
    case VB_KIND_FXO:
        if (d->ring || d->ring_pulse)
            bits |= VB_BIT_RING;
        if (d->polarity)
            bits |= VB_BIT_POLARITY;
        if (d->kewl_ticks == 0)
            bits |= VB_BIT_BATTERY;
        break;
    case VB_KIND_E1:
        bits |= (uint16_t) ((d->cas_rx & 0xF) << VB_BIT_CAS_SHIFT);
        break;
    }
    return bits;
}

static void chan_rx(vb_board_t *b, dchan_t *d)
{
    vb_chan_t *ch = b->chans[d->chan];
    int have;

    /* the pulses set by last tick's events have been seen once: let them go */
    if (d->ring_pulse && ch->line.ring_rx)
        d->ring_pulse = 0;
    if (d->flash_ticks > 0)
        d->flash_ticks--;
    if (d->kewl_ticks > 0)
        d->kewl_ticks--;
    read_block(b, d, &have);
    ch->rx_src = have ? d->rx : NULL;
    ch->rx_bits = rx_bits(d);
    d->st.alarm = d->alarm;
}

void vb_dcard_tick_rx(vb_board_t *b)
{
    vb_dcard_t *c = card_of(b, 0);
    dchan_t *d;
    int i;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    for (i = 0; i < b->nchan; i++) {
        if ((d = c->ch[i]) == NULL)
            continue;
        if (d->detach) {
            detach(b, d);
            c->ch[i] = NULL;
            free(d);
            continue;
        }
        if (!d->attached)
            attach(b, d);
        chan_rx(b, d);
    }
    pthread_mutex_unlock(&c->lock);
}

static void set_hook(vb_board_t *b, dchan_t *d, int v, const char *what)
{
    if (d->ops->ioctl(d->fd, DAHDI_HOOK, &v) < 0 && errno != EINPROGRESS) {
        d->st.ioctl_errors++;
        vb_log(b, d->chan, 1, "dahdi: HOOK %s on channel %d: %s", what, d->channo, strerror(errno));
    }
}

static void signal_fxo(vb_board_t *b, dchan_t *d, vb_chan_t *ch)
{
    vb_line_t *L = &ch->line;

    if (L->flash_ms_left > 0) {
        if (!d->flashing) {
            d->flashing = 1;
            set_hook(b, d, DAHDI_FLASH, "FLASH");   /* the kernel times the flash */
        }
        return;
    }
    d->flashing = 0;
    if (L->hook != d->hook_tx) {
        d->hook_tx = L->hook;
        set_hook(b, d, L->hook ? DAHDI_OFFHOOK : DAHDI_ONHOOK, L->hook ? "OFFHOOK" : "ONHOOK");
    }
}

static void signal_fxs(vb_board_t *b, dchan_t *d, uint16_t bits)
{
    int ring = (bits & VB_BIT_RING) != 0;
    int pol = (bits & VB_BIT_POLARITY) != 0;
    int bat = (bits & VB_BIT_BATTERY) != 0;

    if (ring != d->ring_tx) {
        d->ring_tx = ring;
        /* a phone that went off-hook has tripped the ring in the kernel already */
        if (ring || !d->phone_offhook)
            set_hook(b, d, ring ? DAHDI_RING : DAHDI_RINGOFF, ring ? "RING" : "RINGOFF");
    }
    if (pol != d->pol_tx) {
        d->pol_tx = pol;
        if (d->ops->ioctl(d->fd, DAHDI_SETPOLARITY, &pol) < 0) {
            d->st.ioctl_errors++;
            vb_log(b, d->chan, 1, "dahdi: SETPOLARITY on channel %d: %s", d->channo, strerror(errno));
        }
    }
    if (bat != d->battery_tx) {
        d->battery_tx = bat;
        /* DAHDI has no steady open loop: ONHOOK on a kewlstart port drops the battery a while */
        if (!bat)
            set_hook(b, d, DAHDI_ONHOOK, "ONHOOK (battery drop)");
    }
}

static void signal_e1(vb_board_t *b, dchan_t *d, uint16_t bits)
{
    int cas = (bits >> VB_BIT_CAS_SHIFT) & 0xF;

    if (cas == d->cas_tx)
        return;
    d->cas_tx = cas;
    if (d->ops->ioctl(d->fd, DAHDI_SETTXBITS, &cas) < 0) {
        d->st.ioctl_errors++;
        vb_log(b, d->chan, 1, "dahdi: SETTXBITS on channel %d: %s", d->channo, strerror(errno));
    }
}

static void write_block(vb_board_t *b, dchan_t *d)
{
    ssize_t r;
    int tries;

    for (tries = 0; tries < 2; tries++) {
        r = d->ops->write(d->fd, d->tx, VB_N);
        if (r >= 0) {
            d->st.writes++;
            return;
        }
        if (errno == ELAST) {
            d->st.elast++;
            take_events(b, d);  /* seen by the line next tick */
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            d->st.write_full++;
        else if (d->st.write_errors++ == 0)
            vb_log(b, d->chan, 0, "dahdi: write on channel %d: %s", d->channo, strerror(errno));
        return;
    }
}

void vb_dcard_tick_tx(vb_board_t *b)
{
    vb_dcard_t *c = card_of(b, 0);
    vb_chan_t *ch;
    dchan_t *d;
    int i;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    for (i = 0; i < b->nchan; i++) {
        if ((d = c->ch[i]) == NULL || !d->attached || d->detach)
            continue;
        ch = b->chans[i];
        switch (d->kind) {
        case VB_KIND_FXO:
            signal_fxo(b, d, ch);
            break;
        case VB_KIND_FXS:
            signal_fxs(b, d, ch->tx_bits);
            break;
        case VB_KIND_E1:
            signal_e1(b, d, ch->tx_bits);
            break;
        }
        write_block(b, d);
    }
    pthread_mutex_unlock(&c->lock);
}

void vb_dcard_free(vb_board_t *b)
{
    vb_dcard_t *c = NULL;
    dchan_t *d;
    int i;

    pthread_mutex_lock(&g_lock);
    for (i = 0; i < 64; i++) {
        if (g_boards[i] == b) {
            c = g_cards[i];
            g_boards[i] = NULL;
            g_cards[i] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (c == NULL)
        return;
    for (i = 0; i < VB_MAX_CHANNELS; i++) {
        if ((d = c->ch[i]) == NULL)
            continue;
        if (d->fd >= 0)
            d->ops->close(d->fd);
        free(d);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}
