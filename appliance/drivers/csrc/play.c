/*
 * play.c - the play queue of a channel (files, tones, call-progress tones,
 * DTMF, silence) and vb_send_dtmf's own generator.
 *
 * Files are read through a buffered FILE* (8 kHz mono A-law, mu-law or
 * 16-bit PCM WAV).  A bad item is reported (VB_EV_PLAY_ERROR) and the play
 * goes on with the next one.
 */
#include "vb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CPT_LEVEL_DBM0  (-10)

void vb_cptone_desc(int tone_id, int *f, int *on_ms, int *off_ms, int *once_ms)
{
    *f = 450;
    *on_ms = 1000;
    *off_ms = 0;
    *once_ms = 0;
    switch (tone_id) {
    case VB_TONE_DIAL:
        break;
    case VB_TONE_RINGBACK:
        *off_ms = 4000;
        break;
    case VB_TONE_BUSY:
        *on_ms = *off_ms = 350;
        break;
    case VB_TONE_CONGESTION:
        *on_ms = *off_ms = 700;
        break;
    case VB_TONE_BEEP:
        *f = 1000;
        *once_ms = 300;
        break;
    case VB_TONE_CALLWAIT:
        *on_ms = 400;
        *off_ms = 4000;
        break;
    }
}

static void free_items(vb_play_t *p)
{
    int i;

    for (i = 0; i < p->n; i++) {
        free((char *) p->items[i].path);
        free((char *) p->items[i].digits);
        p->items[i].path = NULL;
        p->items[i].digits = NULL;
    }
    p->n = 0;
}

static void item_close(vb_chan_t *ch)
{
    vb_play_t *p = &ch->play;

    if (p->fp) {
        fclose(p->fp);
        p->fp = NULL;
        atomic_fetch_sub(&ch->b->open_files, 1);
    }
    p->started = 0;
}

static void tone_setup(vb_play_t *p, int f1, int f2, int level, int on_ms, int off_ms)
{
    if (off_ms <= 0)
        tone_gen_descriptor_init(&p->tdesc, f1, level, f2, level, 1000, 0, 0, 0, 1);
    else
        tone_gen_descriptor_init(&p->tdesc, f1, level, f2, level, on_ms, off_ms, 0, 0, 1);
    tone_gen_init(&p->tgen, &p->tdesc);
}

/* Open a regular file for reading without ever blocking (a FIFO would). */
static FILE *open_regular(const char *path, char *err, size_t errlen)
{
    struct stat st;
    FILE *fp;
    int fd;

    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
        vb_strerror(errno, err, errlen);
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        close(fd);
        return NULL;
    }
    if ((fp = fdopen(fd, "rb")) == NULL) {
        vb_strerror(errno, err, errlen);
        close(fd);
        return NULL;
    }
    return fp;
}

static int item_open(vb_chan_t *ch)
{
    vb_play_t *p = &ch->play;
    const vb_play_item_t *it = &p->items[p->idx];
    vb_wav_info_t info;
    char err[VB_EVENT_TEXT];
    char eb[64];
    int f;
    int on;
    int off;
    int once;

    p->samples_left = -1;
    switch (it->type) {
    case VB_ITEM_FILE:
        if ((p->fp = open_regular(it->path, eb, sizeof(eb))) == NULL) {
            vb_emitf(ch->b, VB_EV_PLAY_ERROR, ch->idx, p->tag, p->idx, 0, "cannot open: %s", eb);
            return -1;
        }
        atomic_fetch_add(&ch->b->open_files, 1);
        if (vb_wav_parse(p->fp, &info, err, sizeof(err)) < 0 || vb_wav_check(&info, err, sizeof(err)) < 0) {
            vb_emit(ch->b, VB_EV_PLAY_ERROR, ch->idx, p->tag, p->idx, 0, err);
            item_close(ch);
            return -1;
        }
        p->fmt = info.format;
        p->data_left = info.data_size < 0 ? INT64_MAX : info.data_size;
        break;
    case VB_ITEM_TONE:
        tone_setup(p, it->f1, it->f2, it->level_dbm0, it->on_ms, it->off_ms);
        if (it->duration_ms > 0)
            p->samples_left = (int64_t) it->duration_ms * 8;
        break;
    case VB_ITEM_CPTONE:
        vb_cptone_desc(it->tone_id, &f, &on, &off, &once);
        tone_setup(p, f, 0, CPT_LEVEL_DBM0, on, off);
        if (it->duration_ms > 0)
            p->samples_left = (int64_t) it->duration_ms * 8;
        if (once && (p->samples_left < 0 || p->samples_left > once * 8))
            p->samples_left = (int64_t) once * 8;
        break;
    case VB_ITEM_DTMF:
        dtmf_tx_init(&p->dtx);
        dtmf_tx_set_timing(&p->dtx, it->on_ms > 0 ? it->on_ms : 80, it->off_ms > 0 ? it->off_ms : 80);
        if (dtmf_tx_put(&p->dtx, it->digits, -1) != 0) {
            vb_emit(ch->b, VB_EV_PLAY_ERROR, ch->idx, p->tag, p->idx, 0, "too many digits");
            return -1;
        }
        break;
    case VB_ITEM_SILENCE:
        p->samples_left = (int64_t) it->duration_ms * 8;
        break;
    default:
        vb_emit(ch->b, VB_EV_PLAY_ERROR, ch->idx, p->tag, p->idx, 0, "unknown item type");
        return -1;
    }
    p->started = 1;
    return 0;
}

/* Read up to max samples of the current file; *done at its end. */
static int file_gen(vb_chan_t *ch, int16_t *out, int max, int *done)
{
    vb_play_t *p = &ch->play;
    uint8_t buf[VB_N * 2];
    size_t want;
    size_t got;
    int k;
    int i;

    want = (size_t) max * (p->fmt == 1 ? 2 : 1);
    if ((int64_t) want > p->data_left)
        want = (size_t) p->data_left;
    got = fread(buf, 1, want, p->fp);
    p->data_left -= (int64_t) got;
    switch (p->fmt) {
    case 1:
        k = (int) (got / 2);
        for (i = 0; i < k; i++)
            out[i] = (int16_t) (buf[2 * i] | (buf[2 * i + 1] << 8));
        break;
    case 7:
        k = (int) got;
        for (i = 0; i < k; i++)
            out[i] = ulaw_to_linear(buf[i]);
        break;
    default:
        k = (int) got;
        for (i = 0; i < k; i++)
            out[i] = vb_alaw_dec[buf[i]];
        break;
    }
    *done = (k < max);
    return k;
}

static int item_gen(vb_chan_t *ch, int16_t *out, int max, int *done)
{
    vb_play_t *p = &ch->play;
    int k = max;

    *done = 0;
    switch (p->items[p->idx].type) {
    case VB_ITEM_FILE:
        return file_gen(ch, out, max, done);
    case VB_ITEM_DTMF:
        k = dtmf_tx(&p->dtx, out, max);
        *done = (k < max);
        return k;
    case VB_ITEM_TONE:
    case VB_ITEM_CPTONE:
        if (p->samples_left >= 0 && k > p->samples_left)
            k = (int) p->samples_left;
        k = tone_gen(&p->tgen, out, k);
        break;
    case VB_ITEM_SILENCE:
        if (k > p->samples_left)
            k = (int) p->samples_left;
        memset(out, 0, sizeof(int16_t) * (size_t) k);
        break;
    default:
        *done = 1;
        return 0;
    }
    if (p->samples_left >= 0) {
        p->samples_left -= k;
        *done = (p->samples_left <= 0);
    } else if (k < max) {
        *done = 1;
    }
    return k;
}

static void play_finish(vb_chan_t *ch, int reason, int digit)
{
    vb_play_t *p = &ch->play;

    item_close(ch);
    free_items(p);
    p->active = 0;
    vb_emit(ch->b, VB_EV_PLAY_DONE, ch->idx, p->tag, reason, digit, NULL);
}

void vb_chplay_stop(vb_chan_t *ch, int reason, int digit)
{
    if (ch->play.active)
        play_finish(ch, reason, digit);
}

void vb_chplay_start(vb_chan_t *ch, uint32_t tag, vb_play_item_t *items, int n, int flags)
{
    vb_play_t *p = &ch->play;

    vb_chplay_stop(ch, VB_PLAY_STOPPED, 0);
    memcpy(p->items, items, sizeof(vb_play_item_t) * (size_t) n);
    p->n = n;
    p->idx = 0;
    p->tag = tag;
    p->flags = flags;
    p->started = 0;
    p->active = 1;
}

void vb_chplay_frame(vb_chan_t *ch, int32_t *acc)
{
    vb_play_t *p = &ch->play;
    int16_t buf[VB_N];
    int pos = 0;
    int k;
    int done;
    int i;

    if (!p->active)
        return;
    if (ch->digit && (p->flags & VB_PLAY_BARGE_IN)) {
        play_finish(ch, VB_PLAY_BARGE_IN, ch->digit);
        return;
    }
    while (pos < VB_N && p->active) {
        if (!p->started && item_open(ch) < 0) {
            if (++p->idx >= p->n)
                play_finish(ch, VB_PLAY_END, 0);
            continue;
        }
        k = item_gen(ch, buf + pos, VB_N - pos, &done);
        pos += k;
        if (done) {
            item_close(ch);
            if (++p->idx >= p->n)
                play_finish(ch, VB_PLAY_END, 0);
        }
    }
    if (pos == VB_N) {
        vb_add16(acc, buf);
    } else {
        for (i = 0; i < pos; i++)
            acc[i] += buf[i];
    }
}

/* ---- vb_send_dtmf --------------------------------------------------------- */

void vb_dsend_stop(vb_chan_t *ch, int stopped)
{
    vb_dsend_t *d = &ch->dsend;

    if (!d->active)
        return;
    d->active = 0;
    vb_emit(ch->b, VB_EV_DIGITS_SENT, ch->idx, d->tag, stopped ? VB_PLAY_STOPPED : 0, 0, NULL);
}

void vb_dsend_start(vb_chan_t *ch, uint32_t tag, const char *digits, int on_ms, int off_ms)
{
    vb_dsend_t *d = &ch->dsend;

    vb_dsend_stop(ch, 1);
    dtmf_tx_init(&d->dtx);
    dtmf_tx_set_timing(&d->dtx, on_ms > 0 ? on_ms : 80, off_ms > 0 ? off_ms : 80);
    if (dtmf_tx_put(&d->dtx, digits, -1) != 0) {
        vb_emit(ch->b, VB_EV_CMD_ERROR, ch->idx, tag, VB_EINVAL, 0, "too many digits");
        return;
    }
    d->tag = tag;
    d->active = 1;
}

void vb_dsend_frame(vb_chan_t *ch, int32_t *acc)
{
    vb_dsend_t *d = &ch->dsend;
    int16_t buf[VB_N];
    int k;
    int i;

    if (!d->active)
        return;
    k = dtmf_tx(&d->dtx, buf, VB_N);
    if (k == VB_N) {
        vb_add16(acc, buf);
    } else {
        for (i = 0; i < k; i++)
            acc[i] += buf[i];
    }
    if (k < VB_N)
        vb_dsend_stop(ch, 0);
}
