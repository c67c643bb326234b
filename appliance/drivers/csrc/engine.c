/*
 * engine.c - the board: life cycle, media thread, the 20 ms tick, stats.
 *
 * Tick (media thread only):
 *   commands -> links rx -> phase 1 (rx, signalling, detectors)
 *   -> conference sums -> phase 2 (TX = play + switch [+ listen])
 *   -> phase 3 (record) -> phase 4 (encode, link tx) -> snapshots, eventfd.
 */
#include "vb_internal.h"
#include "dahdisim.h"
#include "dahdi.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define VB_MAX_CATCHUP 5        /* ticks run at most per wake-up */

vb_board_t *vb_board_init(const char *name)
{
    vb_board_t *b;
    int i;

    vb_global_init();
    if ((b = calloc(1, sizeof(*b))) == NULL) {
        vb_set_errno(ENOMEM);
        return NULL;
    }
    snprintf(b->name, sizeof(b->name), "%s", name ? name : "board");
    b->clock_fd = b->event_fd = b->stop_fd = -1;
    atomic_init(&b->ev_added, 0);
    atomic_init(&b->log_level, 1);
    atomic_init(&b->open_files, 0);
    atomic_init(&b->rec_bytes_dropped, 0);
    pthread_mutex_init(&b->cmd_lock, NULL);
    pthread_mutex_init(&b->st_lock, NULL);
    for (i = 0; i < VB_MAX_CHANNELS; i++)
        b->ctl_conf[i] = -1;
    if (vb_evq_init(&b->evq, VB_EVQ_SIZE) < 0)
        goto fail;
    b->clock_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    b->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    b->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->clock_fd < 0 || b->event_fd < 0 || b->stop_fd < 0)
        goto fail;
    if ((b->writer = vb_writer_init(b)) == NULL)
        goto fail;
    return b;
fail:
    vb_fail_sys();
    if (b->clock_fd >= 0)
        close(b->clock_fd);
    if (b->event_fd >= 0)
        close(b->event_fd);
    if (b->stop_fd >= 0)
        close(b->stop_fd);
    if (b->evq.buf)
        vb_evq_release(&b->evq);
    free(b);
    return NULL;
}

/* Append a command to the queue; the caller holds cmd_lock. */
static void cmd_append_locked(vb_board_t *b, vb_cmd_t *c)
{
    c->next = NULL;
    if (b->cmd_tail)
        b->cmd_tail->next = c;
    else
        b->cmd_head = c;
    b->cmd_tail = c;
    b->cmd_count++;
}

int vb_board_add_channels(vb_board_t *b, int kind, int count)
{
    int first;
    int i;
    vb_cmd_t *c;

    if (b == NULL || count <= 0)
        return -VB_EINVAL;
    if (kind != VB_KIND_FXO && kind != VB_KIND_FXS && kind != VB_KIND_E1)
        return -VB_EINVAL;
    if (b->ctl_nchan + count > VB_MAX_CHANNELS)
        return -VB_EFULL;
    first = b->ctl_nchan;
    for (i = 0; i < count; i++) {
        if ((b->chans[first + i] = vb_chan_new(b, first + i, kind)) == NULL) {
            while (--i >= 0) {
                vb_chan_free(b->chans[first + i]);
                b->chans[first + i] = NULL;
            }
            vb_set_errno(ENOMEM);
            return -VB_ESYS;
        }
    }
    /* the media thread starts using them from the next tick */
    if ((c = vb_cmd_new(VB_CMD_ADD_CHANNELS, -1)) == NULL) {
        for (i = 0; i < count; i++) {
            vb_chan_free(b->chans[first + i]);
            b->chans[first + i] = NULL;
        }
        return -VB_ESYS;
    }
    c->a[0] = first + count;
    /* the queue may be full: it takes this one anyway (channels must not wait for another command) */
    pthread_mutex_lock(&b->cmd_lock);
    cmd_append_locked(b, c);
    pthread_mutex_unlock(&b->cmd_lock);
    for (i = 0; i < count; i++) {
        b->ctl_kind[first + i] = kind;
        b->ctl_linked[first + i] = 0;
        b->ctl_conf[first + i] = -1;
        /* initial status snapshot, so vb_chan_status works before the first tick */
        pthread_mutex_lock(&b->st_lock);
        vb_chan_status_fill(b->chans[first + i], &b->status[first + i]);
        pthread_mutex_unlock(&b->st_lock);
    }
    b->ctl_nchan += count;
    return first;
}

int vb_board_channel_count(vb_board_t *b)
{
    return b ? b->ctl_nchan : -VB_EINVAL;
}

int vb_board_channel_kind(vb_board_t *b, int chan)
{
    if (b == NULL)
        return -VB_EINVAL;
    if (chan < 0 || chan >= b->ctl_nchan)
        return -VB_ECHAN;
    return b->ctl_kind[chan];
}

vb_cmd_t *vb_cmd_new(int op, int chan)
{
    vb_cmd_t *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        vb_set_errno(ENOMEM);
        return NULL;
    }
    c->op = op;
    c->chan = chan;
    return c;
}

void vb_cmd_free(vb_cmd_t *c)
{
    int i;

    if (c == NULL)
        return;
    free(c->s1);
    free(c->s2);
    if (c->items) {
        for (i = 0; i < c->n; i++) {
            free((char *) c->items[i].path);
            free((char *) c->items[i].digits);
        }
        free(c->items);
    }
    free(c);
}

int vb_cmd_queue(vb_board_t *b, vb_cmd_t *c)
{
    pthread_mutex_lock(&b->cmd_lock);
    if (b->cmd_count >= VB_CMDQ_MAX) {
        pthread_mutex_unlock(&b->cmd_lock);
        vb_cmd_free(c);
        return -VB_EFULL;
    }
    cmd_append_locked(b, c);
    pthread_mutex_unlock(&b->cmd_lock);
    return 0;
}

static void drain_commands(vb_board_t *b)
{
    vb_cmd_t *c;
    vb_cmd_t *next;

    pthread_mutex_lock(&b->cmd_lock);
    c = b->cmd_head;
    b->cmd_head = b->cmd_tail = NULL;
    b->cmd_count = 0;
    pthread_mutex_unlock(&b->cmd_lock);
    for (; c; c = next) {
        next = c->next;
        vb_cmd_apply(b, c);
        vb_cmd_free(c);
    }
}

static void snapshot(vb_board_t *b, int64_t tick_ns)
{
    int i;
    int plays = 0;
    int conns = 0;
    int members = 0;
    vb_chan_t *ch;

    pthread_mutex_lock(&b->st_lock);
    for (i = 0; i < b->nchan; i++) {
        ch = b->chans[i];
        vb_chan_status_fill(ch, &b->status[i]);
        plays += ch->play.active;
        conns += (ch->connected_to >= 0 || ch->listening_to >= 0);
        members += (ch->conf >= 0);
    }
    b->stats.ticks = b->tick;
    if ((uint64_t) tick_ns > b->stats.tick_ns_max)
        b->stats.tick_ns_max = (uint64_t) tick_ns;
    b->stats.tick_ns_total += (uint64_t) tick_ns;
    b->stats.link_underruns = b->link_underruns;
    b->stats.link_overruns = b->link_overruns;
    b->stats.active_plays = plays;
    b->stats.connections = conns;
    b->stats.conf_members = members;
    b->stats.channels = b->nchan;
    pthread_mutex_unlock(&b->st_lock);
}

/* Does anything feed this channel's TX this tick? (cheap checks only) */
static int tx_busy(const vb_chan_t *ch)
{
    return ch->play.active || ch->dsend.active || ch->connected_to >= 0
           || (ch->conf >= 0 && (ch->conf_flags & VB_CONF_LISTEN))
           || (ch->kind == VB_KIND_FXS && ch->line.ring_active);
}

static void tick(vb_board_t *b)
{
    int64_t t0 = vb_now_ns();
    int i;
    int j;
    vb_chan_t *ch;
    vb_chan_t *t;
    int32_t *acc = b->acc;

    b->now_ms = t0 / 1000000LL;
    drain_commands(b);
    for (i = 0; i < b->nlinks; i++)
        vb_link_rx(b->links[i]);
    vb_dcard_tick_rx(b);        /* channels bound to DAHDI card channels (dahdi.c) */
    /* phase 1: receive */
    for (i = 0; i < b->nchan; i++)
        vb_chan_rx(b->chans[i]);
    vb_sw_conf_mix(b);
    vb_dahdi_tick_rx(b);        /* E1 taps: simulated DAHDI channels, scripted exchange */
    /* phase 2a: base TX = play + DTMF send + caller ID + connect + conference */
    for (i = 0; i < b->nchan; i++) {
        ch = b->chans[i];
        if (!tx_busy(ch)) {
            /* nothing to send: the frame stays silent without touching it again */
            if (!ch->tx_zero) {
                memset(ch->base_tx, 0, sizeof(ch->base_tx));
                ch->tx_zero = 1;
            }
            continue;
        }
        memset(acc, 0, sizeof(b->acc));
        vb_chplay_frame(ch, acc);
        vb_dsend_frame(ch, acc);
        vb_line_tx(ch, acc);
        vb_sw_frame(ch, acc);
        vb_sat_frame(ch->base_tx, acc);
        ch->tx_zero = 0;
    }
    vb_dahdi_tick_tx(b);
    /* phase 2b, 3, 4: listen, record, encode */
    for (i = 0; i < b->nchan; i++) {
        ch = b->chans[i];
        if (ch->listening_to >= 0 && ch->listening_to < b->nchan) {
            t = b->chans[ch->listening_to];
            vb_mix3(ch->listen_tx, ch->base_tx, t->rx, t->base_tx);
            ch->tx = ch->listen_tx;
        } else {
            ch->tx = ch->base_tx;
        }
        vb_chrec_frame(ch);
        if (ch->tx_dst) {
            if (ch->cut || (ch->tx_zero && ch->tx == ch->base_tx)) {
                if (!ch->dst_idle) {
                    memset(ch->tx_dst, VB_ALAW_SILENCE, VB_N);
                    ch->dst_idle = 1;
                }
            } else {
                for (j = 0; j < VB_N; j++)
                    ch->tx_dst[j] = vb_alaw(ch->tx[j]);
                ch->dst_idle = 0;
            }
            ch->tx_bits = vb_line_bits(ch);
        }
    }
    for (i = 0; i < b->nlinks; i++)
        vb_link_tx(b->links[i]);
    vb_dcard_tick_tx(b);
    b->tick++;
    if (atomic_exchange(&b->ev_added, 0))
        vb_event_signal(b);
    snapshot(b, vb_now_ns() - t0);
}

int vb_board_process(vb_board_t *b)
{
    uint64_t exp = 0;
    uint64_t n;
    uint64_t i;
    ssize_t r;

    if (b == NULL)
        return -VB_EINVAL;
    r = read(b->clock_fd, &exp, sizeof(exp));
    if (r != (ssize_t) sizeof(exp) || exp == 0)
        return 0;
    n = exp;
    if (n > VB_MAX_CATCHUP)
        n = VB_MAX_CATCHUP;
    for (i = 0; i < n; i++)
        tick(b);
    pthread_mutex_lock(&b->st_lock);
    b->stats.missed_ticks += exp - 1;
    b->stats.cpu_ns = (uint64_t) (b->cpu_base + vb_thread_cpu_ns());
    pthread_mutex_unlock(&b->st_lock);
    return (int) n;
}

static void *media_main(void *arg)
{
    vb_board_t *b = arg;
    struct pollfd p[2];
    uint64_t v;

    pthread_mutex_lock(&b->st_lock);
    b->cpu_base = (int64_t) b->stats.cpu_ns;
    pthread_mutex_unlock(&b->st_lock);
    p[0].fd = b->clock_fd;
    p[0].events = POLLIN;
    p[1].fd = b->stop_fd;
    p[1].events = POLLIN;
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents) {
            if (read(b->stop_fd, &v, sizeof(v)) < 0) {
                /* reset anyway below */
            }
            break;
        }
        if (p[0].revents & POLLIN)
            vb_board_process(b);
    }
    return NULL;
}

int vb_board_start(vb_board_t *b)
{
    struct itimerspec its;
    int rc;

    if (b == NULL)
        return -VB_EINVAL;
    if (b->running)
        return -VB_ESTATE;
    memset(&its, 0, sizeof(its));
    its.it_interval.tv_nsec = VB_TICK_MS * 1000000L;
    its.it_value.tv_nsec = VB_TICK_MS * 1000000L;
    if (timerfd_settime(b->clock_fd, 0, &its, NULL) < 0)
        return vb_fail_sys();
    if ((rc = pthread_create(&b->thread, NULL, media_main, b)) != 0) {
        vb_set_errno(rc);
        memset(&its, 0, sizeof(its));
        timerfd_settime(b->clock_fd, 0, &its, NULL);
        return -VB_ESYS;
    }
    b->running = 1;
    return 0;
}

int vb_board_stop(vb_board_t *b)
{
    struct itimerspec its;
    uint64_t one = 1;

    if (b == NULL)
        return -VB_EINVAL;
    if (!b->running)
        return 0;
    if (write(b->stop_fd, &one, sizeof(one)) < 0)
        return vb_fail_sys();
    pthread_join(b->thread, NULL);
    b->running = 0;
    memset(&its, 0, sizeof(its));
    timerfd_settime(b->clock_fd, 0, &its, NULL);
    return 0;
}

void vb_board_free(vb_board_t *b)
{
    int i;
    vb_cmd_t *c;
    vb_cmd_t *next;

    if (b == NULL)
        return;
    vb_board_stop(b);
    /* commands never applied: free them (a pending link's fd is closed) */
    for (c = b->cmd_head; c; c = next) {
        next = c->next;
        if (c->op == VB_CMD_LINK_ADD && c->ptr)
            vb_link_free(c->ptr);
        vb_cmd_free(c);
    }
    /* channels were added but the board never ran: adopt them for cleanup */
    b->nchan = b->ctl_nchan;
    for (i = 0; i < b->nchan; i++) {
        vb_chplay_stop(b->chans[i], VB_PLAY_STOPPED, 0);
        if (b->chans[i]->rec.job)
            vb_chrec_stop(b->chans[i], VB_REC_STOPPED, NULL);
    }
    vb_writer_free(b->writer);
    vb_dcard_free(b);
    for (i = 0; i < b->nlinks; i++)
        vb_link_free(b->links[i]);
    for (i = 0; i < b->nchan; i++)
        vb_chan_free(b->chans[i]);
    close(b->clock_fd);
    close(b->event_fd);
    close(b->stop_fd);
    vb_evq_release(&b->evq);
    pthread_mutex_destroy(&b->cmd_lock);
    pthread_mutex_destroy(&b->st_lock);
    free(b);
}

int vb_board_event_fd(vb_board_t *b)
{
    return b ? b->event_fd : -VB_EINVAL;
}

int vb_board_clock_fd(vb_board_t *b)
{
    return b ? b->clock_fd : -VB_EINVAL;
}

int vb_board_stats(vb_board_t *b, vb_board_stats_t *st)
{
    if (b == NULL || st == NULL)
        return -VB_EINVAL;
    pthread_mutex_lock(&b->st_lock);
    *st = b->stats;
    pthread_mutex_unlock(&b->st_lock);
    st->events_lost = vb_evq_lost(&b->evq);
    st->rec_bytes_dropped = atomic_load(&b->rec_bytes_dropped);
    st->active_records = vb_writer_jobs(b->writer);
    st->open_files = atomic_load(&b->open_files);
    st->channels = b->ctl_nchan;
    return 0;
}

int vb_chan_status(vb_board_t *b, int chan, vb_chan_status_t *st)
{
    if (b == NULL || st == NULL)
        return -VB_EINVAL;
    if (chan < 0 || chan >= b->ctl_nchan)
        return -VB_ECHAN;
    pthread_mutex_lock(&b->st_lock);
    *st = b->status[chan];
    pthread_mutex_unlock(&b->st_lock);
    return 0;
}

void vb_board_set_log_level(vb_board_t *b, int level)
{
    if (b)
        atomic_store(&b->log_level, level);
}
