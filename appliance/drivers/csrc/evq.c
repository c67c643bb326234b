/*
 * evq.c - the event ring: filled by the media thread (and the recorder's
 * writer thread), drained by the controlling thread with
 * vb_board_get_events().  A mutex keeps it simple and multi-producer safe.
 *
 * The eventfd is written after events are added (once per tick by the media
 * thread) and reset by the consumer, under the ring lock, when it leaves the
 * ring empty: no wake-up is ever lost, a spurious one is harmless.
 */
#include "vb_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int vb_evq_init(vb_evq_t *q, uint32_t size)
{
    memset(q, 0, sizeof(*q));
    if ((q->buf = calloc(size, sizeof(vb_event_t))) == NULL)
        return -1;
    q->size = size;
    pthread_mutex_init(&q->lock, NULL);
    return 0;
}

void vb_evq_release(vb_evq_t *q)
{
    free(q->buf);
    q->buf = NULL;
    pthread_mutex_destroy(&q->lock);
}

static void evq_put(vb_evq_t *q, const vb_event_t *ev)
{
    q->buf[(q->head + q->count) % q->size] = *ev;
    q->count++;
}

static void evq_overflow_event(vb_evq_t *q, vb_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = VB_EV_OVERFLOW;
    ev->chan = -1;
    ev->arg = (int32_t) q->lost_pending;
    ev->time_ms = vb_now_ms();
    snprintf(ev->text, sizeof(ev->text), "%u events lost", q->lost_pending);
    q->lost_pending = 0;
}

int vb_evq_push(vb_evq_t *q, const vb_event_t *ev)
{
    int stored = 0;
    vb_event_t ov;

    pthread_mutex_lock(&q->lock);
    if (q->lost_pending && q->size - q->count >= 2) {
        evq_overflow_event(q, &ov);
        evq_put(q, &ov);
    }
    if (q->count < q->size && q->lost_pending == 0) {
        evq_put(q, ev);
        stored = 1;
    } else {
        q->lost_total++;
        q->lost_pending++;
    }
    pthread_mutex_unlock(&q->lock);
    return stored;
}

int vb_evq_pop(vb_evq_t *q, vb_event_t *out, int max, int reset_fd)
{
    int n = 0;
    uint64_t v;

    pthread_mutex_lock(&q->lock);
    while (n < max && q->count > 0) {
        out[n++] = q->buf[q->head];
        q->head = (q->head + 1) % q->size;
        q->count--;
    }
    if (n < max && q->count == 0 && q->lost_pending)
        evq_overflow_event(q, &out[n++]);
    if (q->count == 0 && reset_fd >= 0) {
        /* nonblocking eventfd: EAGAIN when already reset */
        if (read(reset_fd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
            /* nothing sensible to do; the fd stays as it is */
        }
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

uint64_t vb_evq_lost(vb_evq_t *q)
{
    uint64_t v;

    pthread_mutex_lock(&q->lock);
    v = q->lost_total;
    pthread_mutex_unlock(&q->lock);
    return v;
}

void vb_emit(vb_board_t *b, int type, int chan, uint32_t tag, int arg, int arg2, const char *text)
{
    vb_event_t ev;

    ev.type = (uint32_t) type;
    ev.chan = chan;
    ev.tag = tag;
    ev.arg = arg;
    ev.arg2 = arg2;
    ev.time_ms = vb_now_ms();
    if (text) {
        strncpy(ev.text, text, sizeof(ev.text) - 1);
        ev.text[sizeof(ev.text) - 1] = '\0';
    } else {
        ev.text[0] = '\0';
    }
    vb_evq_push(&b->evq, &ev);
    atomic_store(&b->ev_added, 1);
}

void vb_emitf(vb_board_t *b, int type, int chan, uint32_t tag, int arg, int arg2, const char *fmt, ...)
{
    char text[VB_EVENT_TEXT];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    vb_emit(b, type, chan, tag, arg, arg2, text);
}

void vb_event_signal(vb_board_t *b)
{
    uint64_t one = 1;

    if (write(b->event_fd, &one, sizeof(one)) < 0) {
        /* EAGAIN only if the counter would overflow: it is readable anyway */
    }
}

int vb_board_get_events(vb_board_t *b, vb_event_t *ev, int max)
{
    if (b == NULL || ev == NULL || max <= 0)
        return -VB_EINVAL;
    return vb_evq_pop(&b->evq, ev, max, b->event_fd);
}
