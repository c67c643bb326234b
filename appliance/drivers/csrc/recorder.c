/*
 * recorder.c - recordings.
 *
 * The media thread mixes and encodes one frame per tick per recording into
 * that recording's ring buffer (never blocking: when the writer falls behind
 * the frame is dropped and counted).  One writer thread per board opens the
 * files, writes the data every ~200 ms (or when a buffer is half full),
 * keeps the 44-byte WAV header true after every write (so a file is valid
 * even after a crash), closes, and reports VB_EV_RECORD_DONE once the file
 * is closed.
 */
#include "vb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WRITE_PERIOD_MS 200
/* -40 dBm0 as mean square (see chan.c) */
#define SILENCE_MS2     26000

struct vb_rec_s {
    vb_rec_t *next;
    int chan;
    uint32_t tag;
    char *path;
    uint8_t *buf;               /* single-producer single-consumer ring */
    _Atomic uint64_t head;      /* bytes produced (media thread) */
    _Atomic uint64_t tail;      /* bytes consumed (writer) */
    int fd;
    int opened;
    atomic_int failed;          /* no more data accepted */
    int closing;
    int released;               /* the media thread has let go */
    int done_sent;
    int reason;
    char text[VB_EVENT_TEXT];
    uint64_t written;
    int64_t last_write_ms;
};

struct vb_writer_s {
    vb_board_t *b;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    vb_rec_t *jobs;
    int njobs;
    int quit;
};

static void rec_done_event(vb_writer_t *w, vb_rec_t *r, int reason, const char *text)
{
    if (r->done_sent)
        return;
    r->done_sent = 1;
    vb_emit(w->b, VB_EV_RECORD_DONE, r->chan, r->tag, reason, (int) (r->written / 8), text);
    vb_event_signal(w->b);
}

/* Called with the lock held; the job stays in the list until released. */
static void rec_fail(vb_writer_t *w, vb_rec_t *r, int err)
{
    char eb[VB_EVENT_TEXT];

    atomic_store(&r->failed, 1);
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
        atomic_fetch_sub(&w->b->open_files, 1);
    }
    vb_strerror(err, eb, sizeof(eb));
    vb_log(w->b, r->chan, 1, "recording %s: %s", r->path, eb);
    rec_done_event(w, r, VB_REC_ERROR, eb);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    ssize_t k;

    while (n > 0) {
        k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t) k;
    }
    return 0;
}

static int update_header(int fd, uint64_t data_bytes)
{
    uint8_t v[4];
    uint32_t riff = (uint32_t) (36 + data_bytes);
    uint32_t data = (uint32_t) data_bytes;

    v[0] = (uint8_t) riff;
    v[1] = (uint8_t) (riff >> 8);
    v[2] = (uint8_t) (riff >> 16);
    v[3] = (uint8_t) (riff >> 24);
    if (pwrite(fd, v, 4, 4) != 4)
        return -1;
    v[0] = (uint8_t) data;
    v[1] = (uint8_t) (data >> 8);
    v[2] = (uint8_t) (data >> 16);
    v[3] = (uint8_t) (data >> 24);
    if (pwrite(fd, v, 4, 40) != 4)
        return -1;
    return 0;
}

/* Open the file (lock held on entry and exit, released around the I/O). */
static void rec_open_file(vb_writer_t *w, vb_rec_t *r)
{
    uint8_t hdr[44];
    int fd;
    int err = 0;

    pthread_mutex_unlock(&w->lock);
    fd = open(r->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = errno;
    } else {
        vb_wav_header_alaw(hdr, 0);
        if (write_all(fd, hdr, sizeof(hdr)) < 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    pthread_mutex_lock(&w->lock);
    if (fd < 0) {
        rec_fail(w, r, err);
        return;
    }
    r->fd = fd;
    r->opened = 1;
    r->last_write_ms = vb_now_ms();
    atomic_fetch_add(&w->b->open_files, 1);
}

/* Write what is buffered (lock held on entry and exit). */
static void rec_flush(vb_writer_t *w, vb_rec_t *r)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t avail = atomic_load_explicit(&r->head, memory_order_acquire) - tail;
    uint64_t off = tail % VB_REC_BUF;
    size_t n1;
    size_t n2;
    int rc;
    int err = 0;
    int fd = r->fd;

    n1 = (size_t) (avail < VB_REC_BUF - off ? avail : VB_REC_BUF - off);
    n2 = (size_t) (avail - n1);
    pthread_mutex_unlock(&w->lock);
    /* the media thread only writes outside [tail, head): no copy needed */
    rc = write_all(fd, r->buf + off, n1);
    if (rc == 0 && n2)
        rc = write_all(fd, r->buf, n2);
    if (rc == 0)
        rc = update_header(fd, r->written + avail);
    if (rc < 0)
        err = errno;
    pthread_mutex_lock(&w->lock);
    r->last_write_ms = vb_now_ms();
    if (rc < 0) {
        rec_fail(w, r, err);
        return;
    }
    atomic_store_explicit(&r->tail, tail + avail, memory_order_release);
    r->written += avail;
}

static void rec_unlink(vb_writer_t *w, vb_rec_t *r)
{
    vb_rec_t **pp;

    for (pp = &w->jobs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            w->njobs--;
            return;
        }
    }
}

static void rec_destroy(vb_rec_t *r)
{
    free(r->path);
    free(r->buf);
    free(r);
}

static void *writer_main(void *arg)
{
    vb_writer_t *w = arg;
    vb_rec_t *r;
    vb_rec_t *next;
    struct timespec ts;
    int64_t now;
    uint64_t avail;
    int fd;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        for (r = w->jobs; r; r = next) {
            next = r->next;
            if (!r->opened && !atomic_load(&r->failed))
                rec_open_file(w, r);
            now = vb_now_ms();
            avail = atomic_load(&r->head) - atomic_load(&r->tail);
            if (r->opened && !atomic_load(&r->failed) && avail > 0
                && (avail >= VB_REC_BUF / 2 || r->closing || now - r->last_write_ms >= WRITE_PERIOD_MS))
                rec_flush(w, r);
            if (r->released && (atomic_load(&r->failed)
                                || (r->closing && atomic_load(&r->head) == atomic_load(&r->tail)))) {
                rec_unlink(w, r);
                fd = r->fd;
                r->fd = -1;
                if (fd >= 0) {
                    close(fd);
                    atomic_fetch_sub(&w->b->open_files, 1);
                }
                rec_done_event(w, r, r->reason, r->text[0] ? r->text : NULL);
                rec_destroy(r);
            }
        }
        if (w->quit && w->jobs == NULL)
            break;
        if (w->jobs) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        } else {
            pthread_cond_wait(&w->cond, &w->lock);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

vb_writer_t *vb_writer_init(vb_board_t *b)
{
    vb_writer_t *w;
    pthread_condattr_t ca;
    int rc;

    if ((w = calloc(1, sizeof(*w))) == NULL)
        return NULL;
    w->b = b;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    if ((rc = pthread_create(&w->thread, NULL, writer_main, w)) != 0) {
        errno = rc;
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

void vb_writer_free(vb_writer_t *w)
{
    vb_rec_t *r;

    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    for (r = w->jobs; r; r = r->next) {
        if (!r->released) {
            r->closing = 1;
            r->reason = VB_REC_STOPPED;
            r->released = 1;
        }
    }
    w->quit = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int vb_writer_jobs(vb_writer_t *w)
{
    int n;

    pthread_mutex_lock(&w->lock);
    n = w->njobs;
    pthread_mutex_unlock(&w->lock);
    return n;
}

vb_rec_t *vb_rec_open(vb_writer_t *w, int chan, uint32_t tag, const char *path)
{
    vb_rec_t *r;

    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->path = strdup(path);
    r->buf = malloc(VB_REC_BUF);
    if (r->path == NULL || r->buf == NULL) {
        rec_destroy(r);
        return NULL;
    }
    r->chan = chan;
    r->tag = tag;
    r->fd = -1;
    pthread_mutex_lock(&w->lock);
    r->next = w->jobs;
    w->jobs = r;
    w->njobs++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return r;
}

/* Media thread, lock-free: the writer only reads [tail, head) and moves tail. */
int vb_rec_push(vb_writer_t *w, vb_rec_t *r, const uint8_t *data, int n)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint64_t off;
    size_t n1;

    if (atomic_load_explicit(&r->failed, memory_order_relaxed))
        return -1;
    if (VB_REC_BUF - (head - tail) < (uint64_t) n) {
        atomic_fetch_add(&w->b->rec_bytes_dropped, (uint64_t) n);
        return 0;
    }
    off = head % VB_REC_BUF;
    n1 = (size_t) n < VB_REC_BUF - off ? (size_t) n : (size_t) (VB_REC_BUF - off);
    memcpy(r->buf + off, data, n1);
    if ((size_t) n > n1)
        memcpy(r->buf, data + n1, (size_t) n - n1);
    atomic_store_explicit(&r->head, head + (uint64_t) n, memory_order_release);
    /* wake the writer when crossing half full (it also wakes every 50 ms by itself) */
    if (head - tail < VB_REC_BUF / 2 && head + (uint64_t) n - tail >= VB_REC_BUF / 2)
        pthread_cond_signal(&w->cond);
    return 0;
}

void vb_rec_close(vb_writer_t *w, vb_rec_t *r, int reason, const char *text)
{
    pthread_mutex_lock(&w->lock);
    r->closing = 1;
    r->reason = reason;
    if (text)
        snprintf(r->text, sizeof(r->text), "%s", text);
    r->released = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* ---- the channel side (media thread) ------------------------------------------ */

void vb_chrec_start(vb_chan_t *ch, uint32_t tag, const char *path, int max_ms, int silence_ms, int flags)
{
    vb_chanrec_t *cr = &ch->rec;

    vb_chrec_stop(ch, VB_REC_STOPPED, NULL);
    memset(cr, 0, sizeof(*cr));
    if ((cr->job = vb_rec_open(ch->b->writer, ch->idx, tag, path)) == NULL) {
        vb_emit(ch->b, VB_EV_RECORD_DONE, ch->idx, tag, VB_REC_ERROR, 0, "out of memory");
        return;
    }
    cr->tag = tag;
    cr->flags = flags;
    cr->max_samples = (int64_t) max_ms * 8;
    cr->silence_samples = (int64_t) silence_ms * 8;
}

void vb_chrec_stop(vb_chan_t *ch, int reason, const char *text)
{
    vb_chanrec_t *cr = &ch->rec;

    if (cr->job == NULL)
        return;
    vb_rec_close(ch->b->writer, cr->job, reason, text);
    cr->job = NULL;
}

void vb_chrec_frame(vb_chan_t *ch)
{
    vb_chanrec_t *cr = &ch->rec;
    uint8_t a[VB_N];
    int16_t mixbuf[VB_N];
    const int16_t *m = mixbuf;
    int64_t energy = 0;
    int i;
    char d = ch->digit;

    if (cr->job == NULL)
        return;
    if (cr->flags & VB_REC_RX_ONLY)
        m = ch->rx;
    else
        vb_mix2(mixbuf, ch->rx, ch->tx);
    for (i = 0; i < VB_N; i++)
        a[i] = vb_alaw(m[i]);
    if (cr->silence_samples > 0) {
        for (i = 0; i < VB_N; i++)
            energy += (int32_t) m[i] * m[i];
    }
    if (vb_rec_push(ch->b->writer, cr->job, a, VB_N) < 0) {
        /* the writer failed and has reported it: let go */
        vb_rec_close(ch->b->writer, cr->job, VB_REC_ERROR, NULL);
        cr->job = NULL;
        return;
    }
    cr->samples += VB_N;
    if (d && (cr->flags & VB_REC_STOP_ON_DTMF) && ((cr->flags & VB_REC_ANY_DIGIT) || d == '#')) {
        char text[8];

        snprintf(text, sizeof(text), "%c", d);
        vb_chrec_stop(ch, VB_REC_DTMF, text);
        return;
    }
    if (cr->max_samples > 0 && cr->samples >= cr->max_samples) {
        vb_chrec_stop(ch, VB_REC_MAXTIME, NULL);
        return;
    }
    if (cr->silence_samples > 0) {
        if (energy < (int64_t) SILENCE_MS2 * VB_N)
            cr->silent_run += VB_N;
        else
            cr->silent_run = 0;
        if (cr->silent_run >= cr->silence_samples)
            vb_chrec_stop(ch, VB_REC_SILENCE, NULL);
    }
}
