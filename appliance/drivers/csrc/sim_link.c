/*
 * sim_link.c - virtual cables.
 *
 * A link binds n consecutive channels of a board to n channels of another
 * board (in this process or another) over an AF_UNIX SOCK_SEQPACKET socket.
 * Every tick each end sends one packet:
 *
 *     header: u32 magic, u32 seq, u16 n, u16 version, u32 reserved
 *     n x   : u16 bits (VB_BIT_*), 160 bytes A-law
 *
 * The receiver keeps a small jitter queue (target 2, at most 3 packets) and
 * consumes one packet per tick; the two boards' clocks are independent.
 * A link is alive while packets keep arriving (5 ticks without one, or a
 * hang-up, bring all its lines down).
 */
#include "vb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LINK_MAGIC      0x4B4C5852u     /* "RXLK" */
#define LINK_VERSION    1
#define HDR_SIZE        16
#define LINE_SIZE       (2 + VB_N)
#define JQ_MAX          3
#define JQ_TARGET       2
#define DOWN_TICKS      5
#define RETRY_TICKS     (1000 / VB_TICK_MS)

struct vb_link_s {
    vb_board_t *b;
    int id;
    int mode;
    int first;
    int n;
    char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
    int fd;                     /* connected socket, -1 */
    int lfd;                    /* listening socket (LISTEN) */
    uint64_t retry_tick;
    int ever;                   /* a packet came since (re)connection */
    int miss;                   /* ticks without a packet */
    int alive;
    int dead;                   /* PAIR whose far end hung up */
    int buffering;
    uint32_t seq;
    size_t pkt_size;
    uint8_t *tx;
    uint8_t *rxbuf;
    size_t rxcap;
    uint8_t *jq[JQ_MAX + 1];    /* per entry: n lines (LINE_SIZE each) */
    int jq_lines[JQ_MAX + 1];
    int jq_head;
    int jq_count;
    uint16_t *last_bits;
};

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

vb_link_t *vb_link_new(vb_board_t *b, int id, int mode, int first, int n, int fd, const char *path)
{
    vb_link_t *l;
    int i;

    if ((l = calloc(1, sizeof(*l))) == NULL)
        return NULL;
    l->b = b;
    l->id = id;
    l->mode = mode;
    l->first = first;
    l->n = n;
    l->fd = -1;
    l->lfd = -1;
    l->buffering = 1;
    if (mode == VB_LINK_LISTEN)
        l->lfd = fd;
    else
        l->fd = fd;
    if (path)
        snprintf(l->path, sizeof(l->path), "%s", path);
    l->pkt_size = HDR_SIZE + (size_t) n * LINE_SIZE;
    l->rxcap = HDR_SIZE + (size_t) VB_MAX_CHANNELS * LINE_SIZE;
    l->tx = calloc(1, l->pkt_size);
    l->rxbuf = malloc(l->rxcap);
    l->last_bits = calloc((size_t) n, sizeof(uint16_t));
    for (i = 0; i <= JQ_MAX; i++)
        l->jq[i] = malloc((size_t) n * LINE_SIZE);
    if (l->tx == NULL || l->rxbuf == NULL || l->last_bits == NULL || l->jq[JQ_MAX] == NULL) {
        vb_link_free(l);
        return NULL;
    }
    for (i = 0; i < JQ_MAX; i++) {
        if (l->jq[i] == NULL) {
            vb_link_free(l);
            return NULL;
        }
    }
    return l;
}

void vb_link_free(vb_link_t *l)
{
    int i;

    if (l == NULL)
        return;
    if (l->fd >= 0)
        close(l->fd);
    if (l->lfd >= 0) {
        close(l->lfd);
        if (l->path[0])
            unlink(l->path);
    }
    free(l->tx);
    free(l->rxbuf);
    free(l->last_bits);
    for (i = 0; i <= JQ_MAX; i++)
        free(l->jq[i]);
    free(l);
}

void vb_link_attach(vb_link_t *l)
{
    int i;
    vb_chan_t *ch;

    for (i = 0; i < l->n; i++) {
        ch = l->b->chans[l->first + i];
        ch->link = l;
        ch->link_line = i;
        ch->rx_src = NULL;
        ch->tx_dst = l->tx + HDR_SIZE + (size_t) i * LINE_SIZE + 2;
        memset(ch->tx_dst, VB_ALAW_SILENCE, VB_N);
        ch->dst_idle = 1;
    }
}

int vb_link_alive(vb_link_t *l)
{
    return l->alive;
}

static void hangup(vb_link_t *l, const char *why)
{
    vb_log(l->b, -1, 2, "link %d: %s", l->id, why);
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->ever = 0;
    l->miss = 0;
    l->jq_count = 0;
    l->buffering = 1;
    memset(l->last_bits, 0, sizeof(uint16_t) * (size_t) l->n);
    if (l->mode == VB_LINK_PAIR)
        l->dead = 1;
    else if (l->mode == VB_LINK_CONNECT)
        l->retry_tick = l->b->tick + RETRY_TICKS;
}

static void try_attach(vb_link_t *l)
{
    struct sockaddr_un sa;
    int fd;

    if (l->mode == VB_LINK_LISTEN && l->lfd >= 0) {
        fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            l->fd = fd;
            vb_log(l->b, -1, 2, "link %d: far side connected", l->id);
        }
    } else if (l->mode == VB_LINK_CONNECT && l->b->tick >= l->retry_tick) {
        l->retry_tick = l->b->tick + RETRY_TICKS;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, l->path, sizeof(sa.sun_path) - 1);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
            close(fd);
            return;
        }
        l->fd = fd;
        vb_log(l->b, -1, 2, "link %d: connected to %s", l->id, l->path);
    }
}

static void jq_push(vb_link_t *l, const uint8_t *pkt, int far_n)
{
    int slot;
    int lines = far_n < l->n ? far_n : l->n;

    if (l->jq_count >= JQ_MAX) {
        /* too many queued: drop the oldest */
        l->jq_head = (l->jq_head + 1) % (JQ_MAX + 1);
        l->jq_count--;
        l->b->link_overruns++;
    }
    slot = (l->jq_head + l->jq_count) % (JQ_MAX + 1);
    memcpy(l->jq[slot], pkt + HDR_SIZE, (size_t) lines * LINE_SIZE);
    l->jq_lines[slot] = lines;
    l->jq_count++;
}

void vb_link_rx(vb_link_t *l)
{
    vb_board_t *b = l->b;
    ssize_t r;
    int got = 0;
    int far_n;
    int i;
    int slot = -1;
    int lines = 0;
    const uint8_t *line;
    vb_chan_t *ch;
    int fd;

    if (l->fd < 0 && !l->dead)
        try_attach(l);
    else if (l->mode == VB_LINK_LISTEN && l->lfd >= 0) {
        /* one far side at a time */
        if ((fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
            close(fd);
    }
    while (l->fd >= 0) {
        r = recv(l->fd, l->rxbuf, l->rxcap, MSG_DONTWAIT);
        if (r > 0) {
            if (r < HDR_SIZE || get32(l->rxbuf) != LINK_MAGIC)
                continue;
            far_n = l->rxbuf[8] | (l->rxbuf[9] << 8);
            if ((size_t) r < HDR_SIZE + (size_t) far_n * LINE_SIZE)
                continue;
            jq_push(l, l->rxbuf, far_n);
            got = 1;
        } else if (r == 0) {
            hangup(l, "far side hung up");
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            hangup(l, strerror(errno));
        }
    }
    if (got) {
        l->ever = 1;
        l->miss = 0;
    } else if (l->miss < 1000000) {
        l->miss++;
    }
    l->alive = l->fd >= 0 && l->ever && l->miss < DOWN_TICKS;
    if (l->alive) {
        if (l->buffering && l->jq_count >= JQ_TARGET)
            l->buffering = 0;
        if (!l->buffering && l->jq_count > 0) {
            slot = l->jq_head;
            lines = l->jq_lines[slot];
            l->jq_head = (l->jq_head + 1) % (JQ_MAX + 1);
            l->jq_count--;
        } else {
            l->buffering = 1;
            b->link_underruns++;
        }
    }
    for (i = 0; i < l->n; i++) {
        ch = b->chans[l->first + i];
        if (slot >= 0 && i < lines) {
            line = l->jq[slot] + (size_t) i * LINE_SIZE;
            l->last_bits[i] = (uint16_t) (line[0] | (line[1] << 8));
            ch->rx_src = line + 2;      /* valid until the next vb_link_rx */
        } else {
            /* underrun: repeat the last bits; a line the far end lacks: absent */
            if (slot >= 0)
                l->last_bits[i] = 0;
            ch->rx_src = NULL;
        }
        ch->rx_bits = l->alive ? l->last_bits[i] : 0;
    }
}

void vb_link_tx(vb_link_t *l)
{
    vb_board_t *b = l->b;
    uint8_t *p = l->tx;
    vb_chan_t *ch;
    int i;
    ssize_t r;

    if (l->fd < 0)
        return;
    put32(p, LINK_MAGIC);
    put32(p + 4, l->seq++);
    p[8] = (uint8_t) l->n;
    p[9] = (uint8_t) (l->n >> 8);
    p[10] = LINK_VERSION;
    p[11] = 0;
    put32(p + 12, 0);
    p += HDR_SIZE;
    for (i = 0; i < l->n; i++, p += LINE_SIZE) {
        ch = b->chans[l->first + i];
        /* the audio is already in place (phase 4 encodes into it) */
        p[0] = (uint8_t) ch->tx_bits;
        p[1] = (uint8_t) (ch->tx_bits >> 8);
    }
    r = send(l->fd, l->tx, l->pkt_size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOBUFS)
        hangup(l, strerror(errno));
}

/* ---- public: creating links (controlling thread) ------------------------------ */

static int chk_range(vb_board_t *b, int first, int n)
{
    int i;

    if (b == NULL || n <= 0)
        return -VB_EINVAL;
    if (first < 0 || first + n > b->ctl_nchan)
        return -VB_ECHAN;
    for (i = first; i < first + n; i++) {
        if (b->ctl_linked[i])
            return -VB_ELINK;
    }
    if (b->ctl_nlinks >= VB_MAX_LINKS)
        return -VB_EFULL;
    return 0;
}

static int kinds_pair(int a, int c)
{
    return (a == VB_KIND_E1 && c == VB_KIND_E1) || (a == VB_KIND_FXO && c == VB_KIND_FXS)
           || (a == VB_KIND_FXS && c == VB_KIND_FXO);
}

static int queue_link(vb_board_t *b, vb_link_t *l)
{
    vb_cmd_t *c;
    int i;
    int rc;

    if ((c = vb_cmd_new(VB_CMD_LINK_ADD, -1)) == NULL)
        return -VB_ESYS;
    c->ptr = l;
    if ((rc = vb_cmd_queue(b, c)) < 0)
        return rc;
    for (i = l->first; i < l->first + l->n; i++)
        b->ctl_linked[i] = 1;
    b->ctl_nlinks++;
    return l->id;
}

int vb_link_pair(vb_board_t *b1, int first1, vb_board_t *b2, int first2, int n)
{
    int sv[2];
    int i;
    int rc;
    vb_link_t *l1;
    vb_link_t *l2;

    if ((rc = chk_range(b1, first1, n)) < 0 || (rc = chk_range(b2, first2, n)) < 0)
        return rc;
    if (b1 == b2 && first1 < first2 + n && first2 < first1 + n)
        return -VB_ELINK;
    if (b1 == b2 && b1->ctl_nlinks + 2 > VB_MAX_LINKS)
        return -VB_EFULL;
    for (i = 0; i < n; i++) {
        if (!kinds_pair(b1->ctl_kind[first1 + i], b2->ctl_kind[first2 + i]))
            return -VB_ELINK;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return vb_fail_sys();
    l1 = vb_link_new(b1, b1->ctl_nlinks, VB_LINK_PAIR, first1, n, sv[0], NULL);
    l2 = vb_link_new(b2, b2->ctl_nlinks + (b1 == b2), VB_LINK_PAIR, first2, n, sv[1], NULL);
    if (l1 == NULL || l2 == NULL) {
        if (l1)
            vb_link_free(l1);
        else
            close(sv[0]);
        if (l2)
            vb_link_free(l2);
        else
            close(sv[1]);
        vb_set_errno(ENOMEM);
        return -VB_ESYS;
    }
    if ((rc = queue_link(b1, l1)) < 0) {
        vb_link_free(l1);       /* closes sv[0] */
        vb_link_free(l2);
        return rc;
    }
    if ((rc = queue_link(b2, l2)) < 0) {
        /* l1 is queued: its far end is simply gone */
        vb_link_free(l2);
        return rc;
    }
    return l1->id;
}

int vb_link_listen(vb_board_t *b, int first, int n, const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    vb_link_t *l;
    int fd;
    int rc;

    if ((rc = chk_range(b, first, n)) < 0)
        return rc;
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path))
        return -VB_EINVAL;
    if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return vb_fail_sys();
    /* a stale socket left by a previous run */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        rc = vb_fail_sys();
        close(fd);
        return rc;
    }
    if ((l = vb_link_new(b, b->ctl_nlinks, VB_LINK_LISTEN, first, n, fd, path)) == NULL) {
        close(fd);
        unlink(path);
        vb_set_errno(ENOMEM);
        return -VB_ESYS;
    }
    if ((rc = queue_link(b, l)) < 0)
        vb_link_free(l);
    return rc;
}

int vb_link_connect(vb_board_t *b, int first, int n, const char *path)
{
    struct sockaddr_un sa;
    vb_link_t *l;
    int rc;

    if ((rc = chk_range(b, first, n)) < 0)
        return rc;
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path))
        return -VB_EINVAL;
    if ((l = vb_link_new(b, b->ctl_nlinks, VB_LINK_CONNECT, first, n, -1, path)) == NULL) {
        vb_set_errno(ENOMEM);
        return -VB_ESYS;
    }
    if ((rc = queue_link(b, l)) < 0)
        vb_link_free(l);
    return rc;
}

int vb_link_cut(vb_board_t *b, int chan, int cut)
{
    vb_cmd_t *c;

    if (b == NULL)
        return -VB_EINVAL;
    if (chan < 0 || chan >= b->ctl_nchan)
        return -VB_ECHAN;
    if (!b->ctl_linked[chan])
        return -VB_ELINK;
    if ((c = vb_cmd_new(VB_CMD_LINK_CUT, chan)) == NULL)
        return -VB_ESYS;
    c->a[0] = cut ? 1 : 0;
    return vb_cmd_queue(b, c);
}
