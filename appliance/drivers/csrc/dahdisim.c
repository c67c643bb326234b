/*
 * dahdisim.c - DAHDI-compatible CAS channels over the engine's E1 channels,
 * for Debian's libopenr2 1.3.3 (which reaches the line only through
 * ioctl/read/write on a DAHDI channel fd).  See docs/r2.md.
 *
 *   vb_dahdi_install()   redirect libopenr2's GOT slots for ioctl/read/write here
 *   vb_dahdi_open(b, ch) a DAHDI-like fd (an eventfd) bound to E1 channel ch of b
 *
 * Threads: the media thread fills the RX fifo, takes TX blocks and exchanges
 * CAS bits in the tick hooks; the controlling (hub) thread runs openr2, whose
 * ioctl/read/write land in dsim_ioctl/dsim_read/dsim_write.  One mutex per
 * channel; nothing blocks.
 *
 * The same hooks carry "taps" run inside the media thread (the scripted
 * exchange, r2x.c): see vb_tap_t in dahdisim.h.
 */
#include "vb_internal.h"
#include "dahdisim.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dahdi/user.h>

#define DSIM_NBUF   4
#define DSIM_FIFO   (DSIM_NBUF * VB_N)
#define DSIM_MAXFD  65536

typedef struct {
    uint8_t buf[DSIM_FIFO];
    int head;
    int count;
} fifo_t;

struct vb_dsim_s {
    int fd;
    vb_board_t *b;
    int chan;
    pthread_mutex_t lock;
    fifo_t rx;
    fifo_t tx;
    int cas_rx;             /* last bits seen from the line */
    int cas_tx;             /* bits openr2 asked for */
    int events;             /* pending DAHDI events, bit per event */
    int line_up;
};

#define EVB_BITS    0x01
#define EVB_ALARM   0x02
#define EVB_NOALARM 0x04

/* registry: taps per board (media thread) and simulated channels by fd (hub) */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static vb_tap_t *g_taps;                        /* singly linked, under g_lock */
static vb_dsim_t *g_by_fd[DSIM_MAXFD];          /* written under g_lock, read by the hub */

static void fifo_put(fifo_t *f, const uint8_t *p, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (f->count == DSIM_FIFO) {            /* full: drop the oldest byte */
            f->head = (f->head + 1) % DSIM_FIFO;
            f->count--;
        }
        f->buf[(f->head + f->count) % DSIM_FIFO] = p[i];
        f->count++;
    }
}

static int fifo_get(fifo_t *f, uint8_t *p, int n)
{
    int i;

    if (n > f->count)
        n = f->count;
    for (i = 0; i < n; i++) {
        p[i] = f->buf[f->head];
        f->head = (f->head + 1) % DSIM_FIFO;
    }
    f->count -= n;
    return n;
}

static void kick(int fd)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) < 0) {
        /* eventfd counter saturated: it is readable anyway */
    }
}

/* ---- taps: run in the media thread (called by engine.c) ------------------ */

void vb_tap_add(vb_tap_t *t)
{
    pthread_mutex_lock(&g_lock);
    t->next = g_taps;
    g_taps = t;
    pthread_mutex_unlock(&g_lock);
}

void vb_tap_remove(vb_tap_t *t)
{
    vb_tap_t **pp;

    pthread_mutex_lock(&g_lock);
    for (pp = &g_taps; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
}

void vb_dahdi_tick_rx(vb_board_t *b)
{
    vb_tap_t *t;
    vb_chan_t *ch;
    uint8_t silence[VB_N];
    const uint8_t *src;

    memset(silence, VB_ALAW_SILENCE, sizeof(silence));
    pthread_mutex_lock(&g_lock);
    for (t = g_taps; t; t = t->next) {
        if (t->b != b || t->chan < 0 || t->chan >= b->nchan)
            continue;
        ch = b->chans[t->chan];
        if (ch->kind != VB_KIND_E1)
            continue;
        src = ch->rx_src ? ch->rx_src : silence;
        t->has_tx = 0;
        t->frame(t, src, ch->line.cas_rx & 0xF, ch->line_up && !ch->e1_alarm, t->txbuf, &t->has_tx,
                 &ch->line.cas_tx);
    }
    pthread_mutex_unlock(&g_lock);
}

void vb_dahdi_tick_tx(vb_board_t *b)
{
    vb_tap_t *t;
    vb_chan_t *ch;
    int j;

    pthread_mutex_lock(&g_lock);
    for (t = g_taps; t; t = t->next) {
        if (t->b != b || !t->has_tx || t->chan < 0 || t->chan >= b->nchan)
            continue;
        ch = b->chans[t->chan];
        for (j = 0; j < VB_N; j++)
            ch->base_tx[j] = vb_sat16((int32_t) ch->base_tx[j] + vb_alaw_dec[t->txbuf[j]]);
        ch->tx_zero = 0;
        t->has_tx = 0;
    }
    pthread_mutex_unlock(&g_lock);
}

/* the tap of a simulated DAHDI channel: fifos in, fifos out */
static void dsim_frame(vb_tap_t *t, const uint8_t *rx, int cas_rx, int line_up, uint8_t *tx, int *has_tx,
                       int *cas_tx)
{
    vb_dsim_t *d = t->ctx;

    pthread_mutex_lock(&d->lock);
    fifo_put(&d->rx, rx, VB_N);
    if (cas_rx != d->cas_rx) {
        d->cas_rx = cas_rx;
        d->events |= EVB_BITS;
    }
    if (line_up != d->line_up) {
        d->line_up = line_up;
        d->events |= line_up ? EVB_NOALARM : EVB_ALARM;
    }
    if (d->tx.count >= VB_N) {
        fifo_get(&d->tx, tx, VB_N);
        *has_tx = 1;
    }
    *cas_tx = d->cas_tx;
    pthread_mutex_unlock(&d->lock);
    kick(d->fd);
}

/* ---- the DAHDI-like fd ---------------------------------------------------- */

int vb_dahdi_open(vb_board_t *b, int chan)
{
    vb_dsim_t *d;
    vb_tap_t *t;
    int fd;

    if (b == NULL || chan < 0 || chan >= b->ctl_nchan)
        return -VB_ECHAN;
    if (b->ctl_kind[chan] != VB_KIND_E1)
        return -VB_EKIND;
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return vb_fail_sys();
    if (fd >= DSIM_MAXFD) {
        close(fd);
        return -VB_EFULL;
    }
    d = calloc(1, sizeof(*d));
    t = calloc(1, sizeof(*t));
    if (d == NULL || t == NULL) {
        free(d);
        free(t);
        close(fd);
        return -VB_EFULL;
    }
    d->fd = fd;
    d->b = b;
    d->chan = chan;
    d->cas_rx = VB_CAS_IDLE;
    d->cas_tx = VB_CAS_IDLE;
    d->line_up = 1;
    d->events = EVB_BITS;           /* openr2 learns the initial bits from a BITSCHANGED */
    pthread_mutex_init(&d->lock, NULL);
    t->b = b;
    t->chan = chan;
    t->ctx = d;
    t->frame = dsim_frame;
    pthread_mutex_lock(&g_lock);
    g_by_fd[fd] = d;
    pthread_mutex_unlock(&g_lock);
    vb_tap_add(t);
    return fd;
}

int vb_dahdi_close(int fd)
{
    vb_tap_t *t;
    vb_dsim_t *d;

    if (fd < 0 || fd >= DSIM_MAXFD || g_by_fd[fd] == NULL)
        return -VB_EINVAL;
    d = g_by_fd[fd];
    pthread_mutex_lock(&g_lock);
    for (t = g_taps; t; t = t->next)
        if (t->ctx == d)
            break;
    pthread_mutex_unlock(&g_lock);
    if (t) {
        vb_tap_remove(t);
        free(t);
    }
    pthread_mutex_lock(&g_lock);
    g_by_fd[fd] = NULL;
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_destroy(&d->lock);
    free(d);
    close(fd);
    return 0;
}

static vb_dsim_t *lookup(int fd)
{
    return (fd >= 0 && fd < DSIM_MAXFD) ? g_by_fd[fd] : NULL;
}

static int next_event(vb_dsim_t *d)
{
    if (d->events & EVB_ALARM) {
        d->events &= ~EVB_ALARM;
        return DAHDI_EVENT_ALARM;
    }
    if (d->events & EVB_NOALARM) {
        d->events &= ~EVB_NOALARM;
        return DAHDI_EVENT_NOALARM;
    }
    if (d->events & EVB_BITS) {
        d->events &= ~EVB_BITS;
        return DAHDI_EVENT_BITSCHANGED;
    }
    return DAHDI_EVENT_NONE;
}

static int dsim_ioctl_do(vb_dsim_t *d, unsigned long req, void *arg)
{
    int *ip = arg;
    int want;
    int got;

    switch (req) {
    case DAHDI_GET_PARAMS: {
        struct dahdi_params *p = arg;
        memset(p, 0, sizeof(*p));
        p->channo = d->chan + 1;
        p->chanpos = d->chan + 1;
        p->sigtype = DAHDI_SIG_CAS;
        p->sigcap = DAHDI_SIG_CAS;
        snprintf(p->name, sizeof(p->name), "VBSIM/%s/%d", d->b->name, d->chan);
        return 0;
    }
    case DAHDI_CHANNO:
        *ip = d->chan + 1;
        return 0;
    case DAHDI_GET_BUFINFO: {
        struct dahdi_bufferinfo *bi = arg;
        memset(bi, 0, sizeof(*bi));
        bi->txbufpolicy = DAHDI_POLICY_IMMEDIATE;
        bi->rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
        bi->numbufs = DSIM_NBUF;
        bi->bufsize = VB_N;
        bi->readbufs = d->rx.count / VB_N;
        bi->writebufs = (DSIM_FIFO - d->tx.count) / VB_N;
        return 0;
    }
    case DAHDI_SET_BUFINFO:
    case DAHDI_SETGAINS:
    case DAHDI_SETLAW:
    case DAHDI_ECHOCANCEL:
    case DAHDI_SET_BLOCKSIZE:
        return 0;
    case DAHDI_GET_BLOCKSIZE:
        *ip = VB_N;
        return 0;
    case DAHDI_IOMUX:
        want = *ip;
        got = 0;
        if ((want & DAHDI_IOMUX_SIGEVENT) && d->events)
            got |= DAHDI_IOMUX_SIGEVENT;
        if ((want & DAHDI_IOMUX_READ) && d->rx.count >= VB_N)
            got |= DAHDI_IOMUX_READ;
        if ((want & DAHDI_IOMUX_WRITE) && DSIM_FIFO - d->tx.count >= VB_N)
            got |= DAHDI_IOMUX_WRITE;
        if ((want & DAHDI_IOMUX_WRITEEMPTY) && d->tx.count == 0)
            got |= DAHDI_IOMUX_WRITEEMPTY;
        *ip = got;
        return 0;
    case DAHDI_GETEVENT:
        *ip = next_event(d);
        return 0;
    case DAHDI_GETRXBITS:
        *ip = d->cas_rx;
        return 0;
    case DAHDI_SETTXBITS:
        d->cas_tx = *ip & 0xF;
        return 0;
    case DAHDI_FLUSH:
        if (*ip & DAHDI_FLUSH_READ)
            d->rx.count = 0;
        if (*ip & DAHDI_FLUSH_WRITE)
            d->tx.count = 0;
        if (*ip & DAHDI_FLUSH_EVENT)
            d->events = 0;
        return 0;
    default:
        vb_log(d->b, d->chan, 1, "dahdisim: unsupported ioctl 0x%lx", req);
        errno = EINVAL;
        return -1;
    }
}

static int dsim_ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;
    vb_dsim_t *d;
    int r;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    d = lookup(fd);
    if (d == NULL)
        return ioctl(fd, req, arg);
    pthread_mutex_lock(&d->lock);
    r = dsim_ioctl_do(d, req, arg);
    pthread_mutex_unlock(&d->lock);
    return r;
}

static ssize_t dsim_read(int fd, void *buf, size_t n)
{
    vb_dsim_t *d = lookup(fd);
    int r;

    if (d == NULL)
        return read(fd, buf, n);
    pthread_mutex_lock(&d->lock);
    if (d->events) {
        r = -1;
        errno = ELAST;
    } else if (d->rx.count < VB_N) {
        r = -1;
        errno = EAGAIN;
    } else {
        r = fifo_get(&d->rx, buf, n > VB_N ? VB_N : (int) n);
    }
    pthread_mutex_unlock(&d->lock);
    return r;
}

static ssize_t dsim_write(int fd, const void *buf, size_t n)
{
    vb_dsim_t *d = lookup(fd);
    int room;
    int r;

    if (d == NULL)
        return write(fd, buf, n);
    pthread_mutex_lock(&d->lock);
    room = DSIM_FIFO - d->tx.count;
    if (d->events) {
        r = -1;
        errno = ELAST;
    } else if (room <= 0) {
        r = -1;
        errno = EAGAIN;
    } else {
        r = n > (size_t) room ? room : (int) n;
        fifo_put(&d->tx, buf, r);
    }
    pthread_mutex_unlock(&d->lock);
    return r;
}

/* ---- GOT patching of libopenr2 ------------------------------------------- */

typedef struct {
    int found;
    int patched;
    int err;
} patch_state_t;

static void *dyn_ptr(const struct dl_phdr_info *info, ElfW(Addr) v)
{
    /* glibc relocates these d_ptr values in memory on x86-64; be tolerant either way */
    return (void *) (v < info->dlpi_addr ? v + info->dlpi_addr : v);
}

static void *replacement(const char *name)
{
    if (strcmp(name, "ioctl") == 0)
        return (void *) dsim_ioctl;
    if (strcmp(name, "read") == 0)
        return (void *) dsim_read;
    if (strcmp(name, "write") == 0)
        return (void *) dsim_write;
    return NULL;
}

static int store_slot(const struct dl_phdr_info *info, void **slot, void *fn)
{
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t) slot;
    int relro = 0;
    int i;

    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_GNU_RELRO && a >= s && a < s + ph->p_memsz)
            relro = 1;
    }
    if (relro && mprotect((void *) (a & ~(uintptr_t) (pg - 1)), (size_t) pg, PROT_READ | PROT_WRITE) != 0)
        return -1;
    __atomic_store_n(slot, fn, __ATOMIC_SEQ_CST);
    if (relro)
        mprotect((void *) (a & ~(uintptr_t) (pg - 1)), (size_t) pg, PROT_READ);
    return 0;
}

static void patch_relocs(const struct dl_phdr_info *info, const ElfW(Rela) *rel, size_t sz,
                         const ElfW(Sym) *symtab, const char *strtab, patch_state_t *st)
{
    size_t i;
    void *fn;

    for (i = 0; rel && i < sz / sizeof(ElfW(Rela)); i++) {
        unsigned type = ELF64_R_TYPE(rel[i].r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
            continue;
        fn = replacement(strtab + symtab[ELF64_R_SYM(rel[i].r_info)].st_name);
        if (fn == NULL)
            continue;
        if (store_slot(info, (void **) (info->dlpi_addr + rel[i].r_offset), fn) != 0)
            st->err = errno;
        else
            st->patched++;
    }
}

static int patch_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    patch_state_t *st = data;
    const ElfW(Dyn) *dyn = NULL;
    const ElfW(Rela) *jmprel = NULL, *rela = NULL;
    size_t jmpsz = 0, relasz = 0;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    int i;

    (void) size;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "libopenr2.so") == NULL)
        return 0;
    st->found = 1;
    for (i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *) (info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_JMPREL: jmprel = dyn_ptr(info, dyn->d_un.d_ptr); break;
        case DT_PLTRELSZ: jmpsz = dyn->d_un.d_val; break;
        case DT_RELA: rela = dyn_ptr(info, dyn->d_un.d_ptr); break;
        case DT_RELASZ: relasz = dyn->d_un.d_val; break;
        case DT_SYMTAB: symtab = dyn_ptr(info, dyn->d_un.d_ptr); break;
        case DT_STRTAB: strtab = dyn_ptr(info, dyn->d_un.d_ptr); break;
        }
    }
    if (symtab == NULL || strtab == NULL)
        return 1;
    patch_relocs(info, jmprel, jmpsz, symtab, strtab, st);
    patch_relocs(info, rela, relasz, symtab, strtab, st);
    return 1;
}

/* Returns the number of GOT slots redirected (>= 3), or a negative VB_E* code. */
int vb_dahdi_install(void)
{
    static int done;
    patch_state_t st = {0, 0, 0};

    if (done)
        return done;
    dl_iterate_phdr(patch_cb, &st);
    if (!st.found)
        return -VB_ESTATE;
    if (st.err) {
        vb_set_errno(st.err);
        return -VB_ESYS;
    }
    if (st.patched < 3)
        return -VB_ESTATE;
    done = st.patched;
    return done;
}
