/*
 * wav.c - WAV (RIFF) headers and the vb_util_* functions.
 */
#include "vb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t) (p[0] | (p[1] << 8));
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
}

int vb_wav_parse(FILE *fp, vb_wav_info_t *info, char *err, size_t errlen)
{
    uint8_t h[12];
    uint8_t c[8];
    uint8_t f[40];
    uint32_t size;
    int64_t pos = 12;
    int have_fmt = 0;
    size_t want;
    struct stat st;
    int64_t fsize = -1;

    memset(info, 0, sizeof(*info));
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode))
        fsize = st.st_size;
    if (fread(h, 1, 12, fp) != 12 || memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WAVE", 4) != 0) {
        snprintf(err, errlen, "not a WAV file");
        return -1;
    }
    for (;;) {
        if (fread(c, 1, 8, fp) != 8) {
            snprintf(err, errlen, have_fmt ? "truncated WAV file: no data chunk"
                                           : "truncated WAV file: no fmt chunk");
            return -1;
        }
        size = le32(c + 4);
        pos += 8;
        if (memcmp(c, "fmt ", 4) == 0) {
            want = size < sizeof(f) ? size : sizeof(f);
            if (size < 16 || fread(f, 1, want, fp) != want) {
                snprintf(err, errlen, "bad WAV file: short fmt chunk");
                return -1;
            }
            info->format = le16(f);
            info->channels = le16(f + 2);
            info->rate = (int) le32(f + 4);
            info->bits = le16(f + 14);
            if (info->format == 0xFFFE && size >= 26 && want >= 26)
                info->format = le16(f + 24);    /* WAVE_FORMAT_EXTENSIBLE: the sub-format */
            have_fmt = 1;
            if (fseek(fp, (long) (pos + size + (size & 1)), SEEK_SET) != 0) {
                snprintf(err, errlen, "bad WAV file: cannot seek");
                return -1;
            }
            pos += size + (size & 1);
        } else if (memcmp(c, "data", 4) == 0) {
            if (!have_fmt) {
                snprintf(err, errlen, "bad WAV file: data before fmt");
                return -1;
            }
            info->data_offset = pos;
            /* 0 or 0xFFFFFFFF (crash, streaming): read to the end of the file */
            if (size == 0 || size == 0xFFFFFFFFu || (fsize >= 0 && pos + (int64_t) size > fsize))
                info->data_size = -1;
            else
                info->data_size = size;
            return 0;
        } else {
            if (fsize >= 0 && pos + (int64_t) size > fsize) {
                snprintf(err, errlen, "truncated WAV file");
                return -1;
            }
            if (fseek(fp, (long) (pos + size + (size & 1)), SEEK_SET) != 0) {
                snprintf(err, errlen, "bad WAV file: cannot seek");
                return -1;
            }
            pos += size + (size & 1);
        }
    }
}

static const char *codec_name(int format, int bits, char *buf, size_t len)
{
    switch (format) {
    case 1:
        snprintf(buf, len, "%d-bit PCM", bits);
        break;
    case 2:
        snprintf(buf, len, "MS ADPCM");
        break;
    case 3:
        snprintf(buf, len, "%d-bit float", bits);
        break;
    case 6:
        snprintf(buf, len, "%d-bit A-law", bits);
        break;
    case 7:
        snprintf(buf, len, "%d-bit mu-law", bits);
        break;
    case 0x11:
        snprintf(buf, len, "IMA ADPCM");
        break;
    case 0x31:
        snprintf(buf, len, "GSM 6.10");
        break;
    case 0x55:
        snprintf(buf, len, "MP3");
        break;
    default:
        snprintf(buf, len, "codec 0x%x", format);
        break;
    }
    return buf;
}

int vb_wav_check(const vb_wav_info_t *info, char *err, size_t errlen)
{
    int codec_ok;
    char chans[24];
    char codec[32];

    codec_ok = (info->format == 1 && info->bits == 16)
               || ((info->format == 6 || info->format == 7) && info->bits == 8);
    if (info->rate == 8000 && info->channels == 1 && codec_ok)
        return 0;
    if (info->channels == 1)
        snprintf(chans, sizeof(chans), "mono");
    else if (info->channels == 2)
        snprintf(chans, sizeof(chans), "stereo");
    else
        snprintf(chans, sizeof(chans), "%d channels", info->channels);
    codec_name(info->format, info->bits, codec, sizeof(codec));
    if (info->rate != 8000 || info->channels != 1) {
        if (codec_ok)
            snprintf(err, errlen, "unsupported format: %d Hz %s", info->rate, chans);
        else
            snprintf(err, errlen, "unsupported format: %d Hz %s, %s", info->rate, chans, codec);
    } else {
        snprintf(err, errlen, "unsupported format: %s", codec);
    }
    return -1;
}

void vb_wav_header_alaw(uint8_t hdr[44], uint32_t data_bytes)
{
    memcpy(hdr, "RIFF", 4);
    put32(hdr + 4, 36 + data_bytes);
    memcpy(hdr + 8, "WAVEfmt ", 8);
    put32(hdr + 16, 16);
    put16(hdr + 20, 6);             /* A-law */
    put16(hdr + 22, 1);             /* mono */
    put32(hdr + 24, 8000);
    put32(hdr + 28, 8000);          /* bytes per second */
    put16(hdr + 32, 1);             /* block align */
    put16(hdr + 34, 8);             /* bits per sample */
    memcpy(hdr + 36, "data", 4);
    put32(hdr + 40, data_bytes);
}

/* ---- utilities ------------------------------------------------------------------ */

int vb_util_dtmf_wav(const char *path, const char *digits, int on_ms, int off_ms, int lead_ms)
{
    dtmf_tx_state_t *tx;
    FILE *fp;
    uint8_t hdr[44];
    int16_t amp[VB_N];
    uint8_t a[VB_N];
    uint32_t total = 0;
    int k;
    int i;
    int lead;
    int rc = 0;

    if (path == NULL || digits == NULL || on_ms < 0 || off_ms < 0 || lead_ms < 0)
        return -VB_EINVAL;
    vb_global_init();
    if ((tx = dtmf_tx_init(NULL)) == NULL)
        return -VB_ESYS;
    dtmf_tx_set_timing(tx, on_ms > 0 ? on_ms : 80, off_ms > 0 ? off_ms : 80);
    if (digits[0] && dtmf_tx_put(tx, digits, -1) != 0) {
        dtmf_tx_free(tx);
        return -VB_EINVAL;
    }
    if ((fp = fopen(path, "wb")) == NULL) {
        vb_fail_sys();
        dtmf_tx_free(tx);
        return -VB_EFILE;
    }
    vb_wav_header_alaw(hdr, 0);
    if (fwrite(hdr, 1, 44, fp) != 44)
        rc = -VB_EFILE;
    memset(a, VB_ALAW_SILENCE, sizeof(a));
    for (lead = lead_ms * 8; rc == 0 && lead > 0; lead -= k) {
        k = lead < VB_N ? lead : VB_N;
        if (fwrite(a, 1, (size_t) k, fp) != (size_t) k)
            rc = -VB_EFILE;
        total += (uint32_t) k;
    }
    while (rc == 0 && digits[0]) {
        k = dtmf_tx(tx, amp, VB_N);
        for (i = 0; i < k; i++)
            a[i] = vb_alaw(amp[i]);
        if (k > 0 && fwrite(a, 1, (size_t) k, fp) != (size_t) k)
            rc = -VB_EFILE;
        total += (uint32_t) k;
        if (k < VB_N)
            break;
    }
    vb_wav_header_alaw(hdr, total);
    if (rc == 0 && (fseek(fp, 0, SEEK_SET) != 0 || fwrite(hdr, 1, 44, fp) != 44))
        rc = -VB_EFILE;
    if (rc < 0)
        vb_fail_sys();
    if (fclose(fp) != 0 && rc == 0) {
        vb_fail_sys();
        rc = -VB_EFILE;
    }
    dtmf_tx_free(tx);
    return rc;
}

static FILE *open_wav(const char *path, vb_wav_info_t *info)
{
    FILE *fp;
    char err[VB_EVENT_TEXT];

    if (path == NULL)
        return NULL;
    vb_global_init();
    if ((fp = fopen(path, "rb")) == NULL) {
        vb_fail_sys();
        return NULL;
    }
    if (vb_wav_parse(fp, info, err, sizeof(err)) < 0) {
        vb_set_errno(EINVAL);
        fclose(fp);
        return NULL;
    }
    if (info->data_size < 0) {
        struct stat st;

        if (fstat(fileno(fp), &st) == 0 && st.st_size >= info->data_offset)
            info->data_size = st.st_size - info->data_offset;
    }
    return fp;
}

int vb_util_wav_info(const char *path, int *rate, int *channels, int *format, int *duration_ms)
{
    vb_wav_info_t info;
    FILE *fp;
    char err[VB_EVENT_TEXT];
    int64_t bps;
    int rc;

    if ((fp = open_wav(path, &info)) == NULL)
        return -VB_EFILE;
    fclose(fp);
    if (rate)
        *rate = info.rate;
    if (channels)
        *channels = info.channels;
    if (format)
        *format = info.format;
    bps = (int64_t) info.rate * info.channels * (info.bits > 0 ? info.bits : 8) / 8;
    if (duration_ms)
        *duration_ms = (bps > 0 && info.data_size > 0) ? (int) (info.data_size * 1000 / bps) : 0;
    rc = vb_wav_check(&info, err, sizeof(err));
    return rc < 0 ? -VB_EFILE : 0;
}

int vb_util_wav_read(const char *path, int16_t *out, int max_samples)
{
    vb_wav_info_t info;
    FILE *fp;
    char err[VB_EVENT_TEXT];
    uint8_t buf[1024];
    int64_t left;
    size_t want;
    size_t got;
    int n = 0;
    size_t i;

    if (out == NULL || max_samples < 0)
        return -VB_EINVAL;
    if ((fp = open_wav(path, &info)) == NULL)
        return -VB_EFILE;
    if (vb_wav_check(&info, err, sizeof(err)) < 0) {
        fclose(fp);
        return -VB_EFILE;
    }
    left = info.data_size >= 0 ? info.data_size : INT64_MAX;
    while (n < max_samples && left > 0) {
        want = sizeof(buf);
        if (info.format == 1) {
            if (want / 2 > (size_t) (max_samples - n))
                want = (size_t) (max_samples - n) * 2;
        } else if (want > (size_t) (max_samples - n)) {
            want = (size_t) (max_samples - n);
        }
        if ((int64_t) want > left)
            want = (size_t) left;
        if ((got = fread(buf, 1, want, fp)) == 0)
            break;
        left -= (int64_t) got;
        if (info.format == 1) {
            for (i = 0; i + 1 < got; i += 2)
                out[n++] = (int16_t) (buf[i] | (buf[i + 1] << 8));
        } else if (info.format == 7) {
            for (i = 0; i < got; i++)
                out[n++] = ulaw_to_linear(buf[i]);
        } else {
            for (i = 0; i < got; i++)
                out[n++] = vb_alaw_dec[buf[i]];
        }
    }
    fclose(fp);
    return n;
}

int64_t vb_util_bench_floor(int nchan, int nticks, int fd)
{
    g711_state_t *g;
    dtmf_rx_state_t **rx;
    int16_t amp[VB_N];
    uint8_t in[VB_N];
    uint8_t out[VB_N];
    int64_t t0;
    int c;
    int t;
    int i;

    if (nchan <= 0 || nticks <= 0)
        return -VB_EINVAL;
    vb_global_init();
    if ((rx = calloc((size_t) nchan, sizeof(*rx))) == NULL)
        return -VB_ESYS;
    g = g711_init(NULL, G711_ALAW);
    for (c = 0; c < nchan; c++)
        rx[c] = dtmf_rx_init(NULL, NULL, NULL);
    /* some speech-band signal: a 697+1209 Hz-free sweep of small tones */
    for (i = 0; i < VB_N; i++)
        in[i] = vb_alaw((int16_t) (3000.0 * ((i * 37) % 160 - 80) / 80.0));
    t0 = vb_thread_cpu_ns();
    for (t = 0; t < nticks; t++) {
        for (c = 0; c < nchan; c++) {
            g711_decode(g, amp, in, VB_N);
            dtmf_rx(rx[c], amp, VB_N);
            g711_encode(g, out, amp, VB_N);
            if (fd >= 0 && write(fd, out, VB_N) < 0) {
                /* a benchmark: ignore */
            }
        }
    }
    t0 = vb_thread_cpu_ns() - t0;
    for (c = 0; c < nchan; c++)
        dtmf_rx_free(rx[c]);
    g711_free(g);
    free(rx);
    return t0;
}
