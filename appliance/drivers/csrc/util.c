/*
 * util.c - time, G.711 tables, errors, logging and one-time global set-up.
 */
#include "vb_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int16_t vb_alaw_dec[256];
uint8_t vb_alaw_enc[8192];

static __thread int vb_errno_tls;
static pthread_once_t vb_once = PTHREAD_ONCE_INIT;
static super_tone_rx_descriptor_t *vb_cpt_desc;

/* Call-progress tones (China, 450 Hz), in the order they are added to the
   super_tone_rx descriptor: index -> vb_tone_id. */
const int vb_cpt_tone_ids[8] = {
    VB_TONE_BUSY, VB_TONE_CONGESTION, VB_TONE_RINGBACK, VB_TONE_DIAL, 0, 0, 0, 0
};

static void vb_build_cpt(void)
{
    super_tone_rx_descriptor_t *d;
    int t;

    d = super_tone_rx_make_descriptor(NULL);
    /* busy 350/350 */
    t = super_tone_rx_add_tone(d);
    super_tone_rx_add_element(d, t, 450, 0, 280, 420);
    super_tone_rx_add_element(d, t, 0, 0, 280, 420);
    /* congestion 700/700 */
    t = super_tone_rx_add_tone(d);
    super_tone_rx_add_element(d, t, 450, 0, 600, 800);
    super_tone_rx_add_element(d, t, 0, 0, 600, 800);
    /* ringback 1000/4000 */
    t = super_tone_rx_add_tone(d);
    super_tone_rx_add_element(d, t, 450, 0, 850, 1150);
    super_tone_rx_add_element(d, t, 0, 0, 3700, 4300);
    /* dial: continuous; a long minimum so a ringback burst never matches */
    t = super_tone_rx_add_tone(d);
    super_tone_rx_add_element(d, t, 450, 0, 2000, 0);
    /* A second monitored frequency that no pattern can match: spandsp compares
       the two best Goertzel results and reads res[1] even when only one
       frequency is monitored. */
    t = super_tone_rx_add_tone(d);
    super_tone_rx_add_element(d, t, 1400, 0, 3600000, 0);
    vb_cpt_desc = d;
}

static void vb_init_once(void)
{
    int i;
    dtmf_rx_state_t *rx;
    dtmf_tx_state_t *tx;

    for (i = 0; i < 256; i++)
        vb_alaw_dec[i] = alaw_to_linear((uint8_t) i);
    for (i = 0; i < 8192; i++)
        vb_alaw_enc[i] = linear_to_alaw((int16_t) (uint16_t) (i << 3));
    /* spandsp builds its DTMF tables lazily behind unlocked static flags:
       build them here, once, before any media thread runs. */
    rx = dtmf_rx_init(NULL, NULL, NULL);
    dtmf_rx_free(rx);
    tx = dtmf_tx_init(NULL);
    dtmf_tx_free(tx);
    vb_build_cpt();
}

void vb_global_init(void)
{
    pthread_once(&vb_once, vb_init_once);
}

super_tone_rx_descriptor_t *vb_cpt_descriptor(int *ids, int nids)
{
    (void) ids;
    (void) nids;
    vb_global_init();
    return vb_cpt_desc;
}

int64_t vb_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t vb_now_ms(void)
{
    return vb_now_ns() / 1000000LL;
}

int64_t vb_thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void vb_set_errno(int e)
{
    vb_errno_tls = e;
}

int vb_fail_sys(void)
{
    vb_errno_tls = errno;
    return -VB_ESYS;
}

int vb_last_errno(void)
{
    return vb_errno_tls;
}

const char *vb_strerror(int e, char *buf, size_t len)
{
    /* GNU strerror_r returns a pointer that may or may not be buf */
    const char *s = strerror_r(e, buf, len);

    if (s != buf)
        snprintf(buf, len, "%s", s);
    return buf;
}

char *vb_strndup(const char *s, size_t max)
{
    if (s == NULL)
        return NULL;
    return strndup(s, max);
}

void vb_log(vb_board_t *b, int chan, int level, const char *fmt, ...)
{
    char text[VB_EVENT_TEXT];
    va_list ap;

    if (b == NULL || level > atomic_load(&b->log_level))
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    vb_emit(b, VB_EV_LOG, chan, 0, level, 0, text);
}
