/*
 * dahdifake.c - a fake DAHDI kernel for the tests of the card backend
 * (dahdi.c), behind the same ops table as the real system calls.
 *
 * It keeps what dahdi-base.c keeps per channel and answers the calls the
 * backend makes the way the kernel does (see the telephony probe note, §3):
 *   - open() of /dev/dahdi/channel gives an unbound fd; DAHDI_SPECIFY binds
 *     it to a channel (ENXIO: no such channel, EBUSY: already open);
 *   - read()/write() fail with ELAST while an event is queued, EAGAIN when
 *     no block is complete (read) or the buffers are full (write);
 *   - DAHDI_GETEVENT takes the oldest event (DAHDI_EVENT_NONE if none);
 *   - DAHDI_HOOK takes OFFHOOK/ONHOOK/FLASH/WINK/START on FXS-signalled
 *     channels (FLASH answers EINPROGRESS, the kernel times it), RING/RINGOFF/
 *     ONHOOK/OFFHOOK on FXO-signalled ones; SETTXBITS/GETRXBITS only on CAS;
 *     SETPOLARITY only on FXO-signalled; a phone going off-hook while ringing
 *     trips the ring;
 *   - the default blocksize is 1024 and the default law mu-law on analog
 *     channels, A-law on CAS, so a backend that skips the set-up is caught.
 * Unlike the kernel (2 buffers by default) the RX queue holds up to 256
 * blocks, so a test can push a few seconds of audio at once.
 *
 * Tests drive it through vb_dahdi_fake_*: channels, events, rx bits,
 * alarms, RX audio in, TX audio out, and the state the backend left.
 *
 * vb_dahdi_fake_patch(a, b) crosses two CAS channels as an E1 crossover
 * cable between two spans of the card would: what is written on one is read
 * on the other, its SETTXBITS are the other's rx bits (BITSCHANGED queued),
 * so two boards on this backend can signal R2 to each other through the
 * real card code path.  Alarms take DAHDI's masks (RED, BLUE, YELLOW) and,
 * as dahdi_alarm_channel() does, queue ALARM / NOALARM when the mask changes.
 */
#include "vb_internal.h"
#include "dahdi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <dahdi/user.h>

#define FAKE_DEVICE     "/dev/dahdi/channel"
#define FAKE_CHANS      256
#define FAKE_FDS        256
#define FAKE_FD_BASE    70000           /* far above the process's real fds */
#define FAKE_EVENTS     16
#define RX_CAP          (256 * VB_N)
#define TX_CAP          (1500 * VB_N)   /* 30 s */
#define DEFAULT_BLOCK   1024
#define PATCH_PREFILL   (2 * VB_N)      /* jitter allowance of a patched channel: 40 ms */
#define ALAW_SILENCE    0xD5

typedef struct {
    uint8_t *buf;
    int cap;
    int head;
    int count;
} bfifo_t;

typedef struct {
    int exists;
    int sigtype;
    int fd;                 /* the fd that SPECIFY'd it, -1 */
    int law;
    int hook;
    int hook_ops;
    int ringing;
    int offhook;
    int polarity;
    int txbits;
    int rxbits;
    int alarms;
    int ev[FAKE_EVENTS];
    int ev_head;
    int ev_count;
    int peer;               /* patched to this channel (0: none) */
    bfifo_t rx;
    bfifo_t tx;
} fchan_t;

typedef struct {
    int used;
    int channo;             /* 0 until SPECIFY */
    int blocksize;
} ffile_t;

static pthread_mutex_t f_lock = PTHREAD_MUTEX_INITIALIZER;
static fchan_t f_chan[FAKE_CHANS];
static ffile_t f_file[FAKE_FDS];

static int fail(int e)
{
    errno = e;
    return -1;
}

static void fifo_put(bfifo_t *f, const uint8_t *p, int n)
{
    int i;

    for (i = 0; i < n && f->count < f->cap; i++) {
        f->buf[(f->head + f->count) % f->cap] = p[i];
        f->count++;
    }
}

static int fifo_get(bfifo_t *f, uint8_t *p, int n)
{
    int i;

    for (i = 0; i < n && f->count > 0; i++) {
        p[i] = f->buf[f->head];
        f->head = (f->head + 1) % f->cap;
        f->count--;
    }
    return i;
}

static fchan_t *chan_of(int channo)
{
    if (channo <= 0 || channo >= FAKE_CHANS || !f_chan[channo].exists)
        return NULL;
    return &f_chan[channo];
}

static ffile_t *file_of(int fd)
{
    int i = fd - FAKE_FD_BASE;

    if (i < 0 || i >= FAKE_FDS || !f_file[i].used)
        return NULL;
    return &f_file[i];
}

static int queue_event(fchan_t *c, int ev)
{
    if (c->ev_count >= FAKE_EVENTS)
        return -1;
    c->ev[(c->ev_head + c->ev_count) % FAKE_EVENTS] = ev;
    c->ev_count++;
    return 0;
}

static int is_fxs_sig(int sig)
{
    return sig == DAHDI_SIG_FXSKS || sig == DAHDI_SIG_FXSLS || sig == DAHDI_SIG_FXSGS;
}

static int is_fxo_sig(int sig)
{
    return sig == DAHDI_SIG_FXOKS || sig == DAHDI_SIG_FXOLS || sig == DAHDI_SIG_FXOGS;
}

/* ---- the ops ------------------------------------------------------------------------ */

static int f_open(const char *path, int flags)
{
    int i;

    (void) flags;
    if (path == NULL || strcmp(path, FAKE_DEVICE) != 0)
        return fail(ENOENT);
    pthread_mutex_lock(&f_lock);
    for (i = 0; i < FAKE_FDS && f_file[i].used; i++)
        ;
    if (i == FAKE_FDS) {
        pthread_mutex_unlock(&f_lock);
        return fail(EMFILE);
    }
    f_file[i].used = 1;
    f_file[i].channo = 0;
    f_file[i].blocksize = DEFAULT_BLOCK;
    pthread_mutex_unlock(&f_lock);
    return FAKE_FD_BASE + i;
}

static int f_close(int fd)
{
    ffile_t *f;
    fchan_t *c;

    pthread_mutex_lock(&f_lock);
    if ((f = file_of(fd)) == NULL) {
        pthread_mutex_unlock(&f_lock);
        return fail(EBADF);
    }
    if ((c = chan_of(f->channo)) != NULL && c->fd == fd) {
        c->fd = -1;
        c->ev_count = 0;
        c->ringing = 0;
    }
    memset(f, 0, sizeof(*f));
    pthread_mutex_unlock(&f_lock);
    return 0;
}

static int do_specify(ffile_t *f, int fd, int channo)
{
    fchan_t *c = chan_of(channo);

    if (f->channo)
        return fail(EINVAL);
    if (c == NULL)
        return fail(ENXIO);
    if (c->fd >= 0)
        return fail(EBUSY);
    c->fd = fd;
    c->ev_count = 0;
    c->law = (c->sigtype == DAHDI_SIG_CAS) ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;
    f->channo = channo;
    return 0;
}

static int do_hook(fchan_t *c, int v)
{
    int ok;

    if (is_fxs_sig(c->sigtype))
        ok = v == DAHDI_OFFHOOK || v == DAHDI_ONHOOK || v == DAHDI_FLASH || v == DAHDI_WINK
             || v == DAHDI_START;
    else if (is_fxo_sig(c->sigtype))
        ok = v == DAHDI_RING || v == DAHDI_RINGOFF || v == DAHDI_ONHOOK || v == DAHDI_OFFHOOK;
    else
        ok = 0;
    if (!ok)
        return fail(EINVAL);
    c->hook = v;
    c->hook_ops++;
    if (is_fxs_sig(c->sigtype)) {
        if (v == DAHDI_OFFHOOK || v == DAHDI_ONHOOK)
            c->offhook = v == DAHDI_OFFHOOK;
        if (v == DAHDI_FLASH)
            return fail(EINPROGRESS);   /* the kernel runs the flash timer, hook stays off */
    } else {
        if (v == DAHDI_RING)
            c->ringing = !c->offhook;
        else if (v == DAHDI_RINGOFF || v == DAHDI_ONHOOK)
            c->ringing = 0;
    }
    return 0;
}

static int set_rxbits(fchan_t *c, int bits)
{
    if (c->rxbits == (bits & 0xF))
        return 0;
    c->rxbits = bits & 0xF;
    return c->sigtype == DAHDI_SIG_CAS && queue_event(c, DAHDI_EVENT_BITSCHANGED) < 0 ? -VB_EFULL : 0;
}

static void fill_params(const fchan_t *c, int channo, struct dahdi_params *p)
{
    memset(p, 0, sizeof(*p));
    p->channo = channo;
    p->spanno = 1;
    p->chanpos = channo;
    p->sigtype = c->sigtype;
    p->sigcap = c->sigtype;
    p->rxisoffhook = is_fxo_sig(c->sigtype) ? c->offhook : 0;
    p->rxbits = c->rxbits;
    p->txbits = c->txbits;
    p->curlaw = c->law;
    p->idlebits = 0x9;
    p->chan_alarms = (uint32_t) c->alarms;
    snprintf(p->name, sizeof(p->name), "FAKE/1/%d", channo);
}

static int chan_ioctl(ffile_t *f, fchan_t *c, unsigned long req, int *ip, void *arg)
{
    switch (req) {
    case DAHDI_SET_BLOCKSIZE:
        if (*ip < 16 || *ip > DAHDI_MAX_BLOCKSIZE)
            return fail(EINVAL);
        f->blocksize = *ip;
        return 0;
    case DAHDI_GET_BLOCKSIZE:
        *ip = f->blocksize;
        return 0;
    case DAHDI_SETLAW:
        if (*ip < 0 || *ip > DAHDI_LAW_ALAW)
            return fail(EINVAL);
        c->law = *ip ? *ip : (c->sigtype == DAHDI_SIG_CAS ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW);
        return 0;
    case DAHDI_GET_PARAMS:
        fill_params(c, f->channo, arg);
        return 0;
    case DAHDI_GETEVENT:
        *ip = DAHDI_EVENT_NONE;
        if (c->ev_count > 0) {
            *ip = c->ev[c->ev_head];
            c->ev_head = (c->ev_head + 1) % FAKE_EVENTS;
            c->ev_count--;
        }
        return 0;
    case DAHDI_HOOK:
        return do_hook(c, *ip);
    case DAHDI_SETTXBITS:
        if (c->sigtype != DAHDI_SIG_CAS)
            return fail(EINVAL);
        c->txbits = *ip & 0xF;
        if (c->peer)
            set_rxbits(&f_chan[c->peer], c->txbits);
        return 0;
    case DAHDI_GETRXBITS:
        if (c->sigtype != DAHDI_SIG_CAS)
            return fail(EINVAL);
        *ip = c->rxbits;
        return 0;
    case DAHDI_SETPOLARITY:
        if (!is_fxo_sig(c->sigtype))
            return fail(EINVAL);
        c->polarity = *ip ? 1 : 0;
        return 0;
    }
    return fail(ENOTTY);
}

static int f_ioctl(int fd, unsigned long req, void *arg)
{
    ffile_t *f;
    fchan_t *c;
    int rc;

    if (arg == NULL)
        return fail(EFAULT);
    pthread_mutex_lock(&f_lock);
    if ((f = file_of(fd)) == NULL)
        rc = fail(EBADF);
    else if (req == DAHDI_SPECIFY)
        rc = do_specify(f, fd, *(int *) arg);
    else if ((c = chan_of(f->channo)) == NULL)
        rc = fail(EINVAL);          /* not SPECIFY'd yet */
    else
        rc = chan_ioctl(f, c, req, arg, arg);
    pthread_mutex_unlock(&f_lock);
    return rc;
}

static ssize_t f_read(int fd, void *buf, size_t n)
{
    ffile_t *f;
    fchan_t *c;
    ssize_t rc;

    pthread_mutex_lock(&f_lock);
    if ((f = file_of(fd)) == NULL)
        rc = fail(EBADF);
    else if ((c = chan_of(f->channo)) == NULL)
        rc = fail(EINVAL);
    else if (c->ev_count > 0)
        rc = fail(ELAST);
    else if (c->rx.count < f->blocksize)
        rc = fail(EAGAIN);
    else
        rc = fifo_get(&c->rx, buf, (int) (n < (size_t) f->blocksize ? n : (size_t) f->blocksize));
    pthread_mutex_unlock(&f_lock);
    return rc;
}

static ssize_t f_write(int fd, const void *buf, size_t n)
{
    ffile_t *f;
    fchan_t *c;
    ssize_t rc;

    pthread_mutex_lock(&f_lock);
    if ((f = file_of(fd)) == NULL)
        rc = fail(EBADF);
    else if ((c = chan_of(f->channo)) == NULL)
        rc = fail(EINVAL);
    else if (c->ev_count > 0)
        rc = fail(ELAST);
    else if (c->peer) {
        fifo_put(&f_chan[c->peer].rx, buf, (int) n);    /* the far end overruns: dropped */
        rc = (ssize_t) n;
    } else if (c->tx.cap - c->tx.count < (int) n)
        rc = fail(EAGAIN);
    else {
        fifo_put(&c->tx, buf, (int) n);
        rc = (ssize_t) n;
    }
    pthread_mutex_unlock(&f_lock);
    return rc;
}

static const vb_dahdi_ops_t fake_ops = {
    "fake", f_open, f_close, f_ioctl, f_read, f_write,
};

const vb_dahdi_ops_t *vb_dahdi_fake_ops(void)
{
    return &fake_ops;
}

/* ---- the test side ----------------------------------------------------------------- */

int vb_dahdi_fake_reset(void)
{
    int i;

    pthread_mutex_lock(&f_lock);
    for (i = 0; i < FAKE_CHANS; i++) {
        free(f_chan[i].rx.buf);
        free(f_chan[i].tx.buf);
    }
    memset(f_chan, 0, sizeof(f_chan));
    memset(f_file, 0, sizeof(f_file));
    pthread_mutex_unlock(&f_lock);
    return 0;
}

int vb_dahdi_fake_add(int channo, int sigtype)
{
    fchan_t *c;

    if (channo <= 0 || channo >= FAKE_CHANS)
        return -VB_EINVAL;
    pthread_mutex_lock(&f_lock);
    c = &f_chan[channo];
    if (c->exists) {
        pthread_mutex_unlock(&f_lock);
        return -VB_EINVAL;
    }
    c->rx.buf = malloc(RX_CAP);
    c->tx.buf = malloc(TX_CAP);
    if (c->rx.buf == NULL || c->tx.buf == NULL) {
        free(c->rx.buf);
        free(c->tx.buf);
        memset(c, 0, sizeof(*c));
        pthread_mutex_unlock(&f_lock);
        return -VB_ESYS;
    }
    c->rx.cap = RX_CAP;
    c->tx.cap = TX_CAP;
    c->exists = 1;
    c->sigtype = sigtype;
    c->fd = -1;
    c->hook = -1;
    c->law = sigtype == DAHDI_SIG_CAS ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;
    c->rxbits = c->txbits = 0x9;
    pthread_mutex_unlock(&f_lock);
    return 0;
}

/* Queue an event, with the state change the kernel makes along with it. */
int vb_dahdi_fake_event(int channo, int event)
{
    fchan_t *c;
    int rc = -VB_ECHAN;

    pthread_mutex_lock(&f_lock);
    if ((c = chan_of(channo)) != NULL) {
        if (is_fxo_sig(c->sigtype) && event == DAHDI_EVENT_RINGOFFHOOK) {
            c->offhook = 1;
            c->ringing = 0;             /* ring trip */
        } else if (is_fxo_sig(c->sigtype) && event == DAHDI_EVENT_ONHOOK) {
            c->offhook = 0;
        }
        rc = queue_event(c, event) < 0 ? -VB_EFULL : 0;
    }
    pthread_mutex_unlock(&f_lock);
    return rc;
}

int vb_dahdi_fake_set_rxbits(int channo, int bits)
{
    fchan_t *c;
    int rc = -VB_ECHAN;

    pthread_mutex_lock(&f_lock);
    if ((c = chan_of(channo)) != NULL)
        rc = set_rxbits(c, bits);
    pthread_mutex_unlock(&f_lock);
    return rc;
}

static int set_alarms(fchan_t *c, int alarms)
{
    if (c->alarms == alarms)
        return 0;
    c->alarms = alarms;
    return queue_event(c, alarms ? DAHDI_EVENT_ALARM : DAHDI_EVENT_NOALARM) < 0 ? -VB_EFULL : 0;
}

/* alarms: a DAHDI_ALARM_* mask (0 clears; 1 means red, as "on") */
int vb_dahdi_fake_alarm(int channo, int alarms)
{
    fchan_t *c;
    int rc = -VB_ECHAN;

    if (alarms == 1)
        alarms = DAHDI_ALARM_RED;
    pthread_mutex_lock(&f_lock);
    if ((c = chan_of(channo)) != NULL) {
        rc = 0;
        rc = set_alarms(c, alarms);
        if (rc == 0 && c->peer) {
            /* the far framer loses our frames: it sends RAI, and its own end is in yellow */
            fchan_t *p = &f_chan[c->peer];

            if (alarms & (DAHDI_ALARM_RED | DAHDI_ALARM_BLUE))
                rc = set_alarms(p, p->alarms | DAHDI_ALARM_YELLOW);
            else if (p->alarms & DAHDI_ALARM_YELLOW)
                rc = set_alarms(p, p->alarms & ~DAHDI_ALARM_YELLOW);
        }
    }
    pthread_mutex_unlock(&f_lock);
    return rc;
}

/* Cross two CAS channels (an E1 crossover cable between two spans); each starts with
   PATCH_PREFILL bytes of silence queued, the jitter allowance between two boards' ticks. */
int vb_dahdi_fake_patch(int a, int b)
{
    static const uint8_t silence[PATCH_PREFILL] = { [0 ... PATCH_PREFILL - 1] = ALAW_SILENCE };
    fchan_t *ca, *cb;
    int rc = -VB_ECHAN;

    pthread_mutex_lock(&f_lock);
    if ((ca = chan_of(a)) != NULL && (cb = chan_of(b)) != NULL && a != b) {
        rc = -VB_EKIND;
        if (ca->sigtype == DAHDI_SIG_CAS && cb->sigtype == DAHDI_SIG_CAS && !ca->peer && !cb->peer) {
            ca->peer = b;
            cb->peer = a;
            fifo_put(&ca->rx, silence, PATCH_PREFILL);
            fifo_put(&cb->rx, silence, PATCH_PREFILL);
            set_rxbits(ca, cb->txbits);
            set_rxbits(cb, ca->txbits);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&f_lock);
    return rc;
}

int vb_dahdi_fake_push_rx(int channo, const uint8_t *data, int n)
{
    fchan_t *c;
    int rc = -VB_ECHAN;

    if (data == NULL || n < 0)
        return -VB_EINVAL;
    pthread_mutex_lock(&f_lock);
    if ((c = chan_of(channo)) != NULL) {
        rc = c->rx.cap - c->rx.count < n ? -VB_EFULL : 0;
        if (rc == 0)
            fifo_put(&c->rx, data, n);
    }
    pthread_mutex_unlock(&f_lock);
    return rc;
}

int vb_dahdi_fake_pull_tx(int channo, uint8_t *out, int max)
{
    fchan_t *c;
    int rc = -VB_ECHAN;

    if (out == NULL || max < 0)
        return -VB_EINVAL;
    pthread_mutex_lock(&f_lock);
    if ((c = chan_of(channo)) != NULL)
        rc = fifo_get(&c->tx, out, max);
    pthread_mutex_unlock(&f_lock);
    return rc;
}

int vb_dahdi_fake_state(int channo, vb_dahdi_fake_state_t *st)
{
    fchan_t *c;
    ffile_t *f;

    if (st == NULL)
        return -VB_EINVAL;
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&f_lock);
    if ((c = chan_of(channo)) == NULL) {
        pthread_mutex_unlock(&f_lock);
        return -VB_ECHAN;
    }
    f = c->fd >= 0 ? file_of(c->fd) : NULL;
    st->exists = 1;
    st->open = c->fd >= 0;
    st->blocksize = f ? f->blocksize : 0;
    st->law = c->law;
    st->sigtype = c->sigtype;
    st->hook = c->hook;
    st->hook_ops = c->hook_ops;
    st->ringing = c->ringing;
    st->offhook = c->offhook;
    st->polarity = c->polarity;
    st->txbits = c->txbits;
    st->rxbits = c->rxbits;
    st->alarms = c->alarms;
    st->events_queued = c->ev_count;
    st->rx_queued = c->rx.count;
    st->tx_queued = c->tx.count;
    pthread_mutex_unlock(&f_lock);
    return 0;
}
