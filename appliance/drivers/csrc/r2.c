/*
 * r2.c - the appliance side of MFC-R2 (China) with Debian's libopenr2 1.3.3.
 *
 * A vb_r2_t is one openr2 context (a span) with its channels, each on a
 * DAHDI-like fd (a real /dev/dahdi/channel fd, or vb_dahdi_open's simulated
 * one).  openr2's callbacks only queue vb_r2_event_t records; the caller
 * drains them after vb_r2_process(), so no action ever runs inside an openr2
 * callback, and the va_list logging callbacks stay in C.
 *
 * Controlling (hub) thread only.  See docs/r2.md.
 */
#include "vb_internal.h"
#include "dahdisim.h"
#include "r2.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openr2.h>

#define R2_EVQ 512

typedef struct {
    vb_r2_t *r;
    int idx;
    int dnis_count;
    vb_r2mf_t *mf;
} r2chan_t;

extern openr2_mflib_interface_t vb_r2mf_iface;

struct vb_r2_s {
    openr2_context_t *ctx;
    openr2_chan_t *chans[VB_R2_MAX_CHANS];
    r2chan_t cd[VB_R2_MAX_CHANS];
    int nchan;
    int dnis_len;
    int debug;
    vb_r2_event_t evq[R2_EVQ];
    int ev_head;
    int ev_count;
    int ev_lost;
};

static r2chan_t *cd_of(openr2_chan_t *c)
{
    return openr2_chan_get_client_data(c);
}

static vb_r2_event_t *push(openr2_chan_t *c, int type, int arg)
{
    r2chan_t *cd = cd_of(c);
    vb_r2_t *r;
    vb_r2_event_t *ev;

    if (cd == NULL)
        return NULL;
    r = cd->r;
    if (r->ev_count == R2_EVQ) {
        r->ev_lost++;
        return NULL;
    }
    ev = &r->evq[(r->ev_head + r->ev_count) % R2_EVQ];
    r->ev_count++;
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->chan = cd->idx;
    ev->arg = arg;
    return ev;
}

static void on_call_init(openr2_chan_t *c)
{
    r2chan_t *cd = cd_of(c);

    if (cd)
        cd->dnis_count = 0;
    push(c, VB_R2_EV_INIT, 0);
}

static void on_call_offered(openr2_chan_t *c, const char *ani, const char *dnis,
                            openr2_calling_party_category_t category)
{
    vb_r2_event_t *ev = push(c, VB_R2_EV_OFFERED, (int) category);

    if (ev == NULL)
        return;
    snprintf(ev->ani, sizeof(ev->ani), "%s", ani ? ani : "");
    snprintf(ev->dnis, sizeof(ev->dnis), "%s", dnis ? dnis : "");
    snprintf(ev->text, sizeof(ev->text), "%s", openr2_proto_get_category_string(category));
}

static void on_call_accepted(openr2_chan_t *c, openr2_call_mode_t mode)
{
    push(c, VB_R2_EV_ACCEPTED, (int) mode);
}

static void on_call_answered(openr2_chan_t *c)
{
    push(c, VB_R2_EV_ANSWERED, 0);
}

static int cause_of(openr2_call_disconnect_cause_t cause)
{
    switch (cause) {
    case OR2_CAUSE_NORMAL_CLEARING: return VB_R2_CAUSE_NORMAL;
    case OR2_CAUSE_BUSY_NUMBER: return VB_R2_CAUSE_BUSY;
    case OR2_CAUSE_NETWORK_CONGESTION: return VB_R2_CAUSE_CONGESTION;
    case OR2_CAUSE_UNALLOCATED_NUMBER: return VB_R2_CAUSE_UNALLOCATED;
    case OR2_CAUSE_OUT_OF_ORDER: return VB_R2_CAUSE_OUT_OF_ORDER;
    case OR2_CAUSE_NO_ANSWER: return VB_R2_CAUSE_NO_ANSWER;
    default: return VB_R2_CAUSE_OTHER;
    }
}

static void on_call_disconnect(openr2_chan_t *c, openr2_call_disconnect_cause_t cause)
{
    vb_r2_event_t *ev = push(c, VB_R2_EV_DISCONNECT, cause_of(cause));

    if (ev)
        snprintf(ev->text, sizeof(ev->text), "%s", openr2_proto_get_disconnect_string(cause));
}

static void on_call_end(openr2_chan_t *c)
{
    r2chan_t *cd = cd_of(c);

    if (cd)
        vb_r2mf_disarm(cd->mf);
    push(c, VB_R2_EV_END, 0);
}

static void on_call_read(openr2_chan_t *c, const unsigned char *buf, int len)
{
    /* call audio is the engine's (see docs/r2.md) */
    (void) c;
    (void) buf;
    (void) len;
}

static void on_hardware_alarm(openr2_chan_t *c, int alarm)
{
    push(c, VB_R2_EV_ALARM, alarm);
}

static void on_os_error(openr2_chan_t *c, int err)
{
    push(c, VB_R2_EV_OS_ERROR, err);
}

static void on_protocol_error(openr2_chan_t *c, openr2_protocol_error_t err)
{
    r2chan_t *cd = cd_of(c);
    vb_r2_event_t *ev;

    if (cd)
        vb_r2mf_disarm(cd->mf);
    ev = push(c, VB_R2_EV_PROTOCOL_ERROR, (int) err);

    if (ev)
        snprintf(ev->text, sizeof(ev->text), "%s", openr2_proto_get_error(err));
}

static void on_line_blocked(openr2_chan_t *c)
{
    push(c, VB_R2_EV_BLOCKED, 0);
}

static void on_line_idle(openr2_chan_t *c)
{
    push(c, VB_R2_EV_IDLE, 0);
}

static void on_context_log(openr2_context_t *ctx, openr2_log_level_t level, const char *fmt, va_list ap)
{
    (void) ctx;
    (void) level;
    if (getenv("REXIAN_R2_DEBUG")) {
        fputs("r2 ctx: ", stderr);
        vfprintf(stderr, fmt, ap);
    }
}

static void on_chan_log(openr2_chan_t *c, openr2_log_level_t level, const char *fmt, va_list ap)
{
    r2chan_t *cd = cd_of(c);

    (void) level;
    if (cd && cd->r->debug) {
        fprintf(stderr, "r2 ch%d: ", cd->idx);
        vfprintf(stderr, fmt, ap);
    }
}

/* China has no end-of-DNIS signal: stop asking once the number is complete */
static int on_dnis_digit_received(openr2_chan_t *c, char digit)
{
    r2chan_t *cd = cd_of(c);

    (void) digit;
    if (cd == NULL)
        return 1;
    cd->dnis_count++;
    return (cd->r->dnis_len > 0 && cd->dnis_count >= cd->r->dnis_len) ? 0 : 1;
}

static void on_ani_digit_received(openr2_chan_t *c, char digit)
{
    (void) c;
    (void) digit;
}

static void on_billing_pulse_received(openr2_chan_t *c)
{
    (void) c;
}

static openr2_event_interface_t g_evif = {
    .on_call_init = on_call_init,
    .on_call_offered = on_call_offered,
    .on_call_accepted = on_call_accepted,
    .on_call_answered = on_call_answered,
    .on_call_disconnect = on_call_disconnect,
    .on_call_end = on_call_end,
    .on_call_read = on_call_read,
    .on_hardware_alarm = on_hardware_alarm,
    .on_os_error = on_os_error,
    .on_protocol_error = on_protocol_error,
    .on_line_blocked = on_line_blocked,
    .on_line_idle = on_line_idle,
    .on_context_log = on_context_log,
    .on_dnis_digit_received = on_dnis_digit_received,
    .on_ani_digit_received = on_ani_digit_received,
    .on_billing_pulse_received = on_billing_pulse_received,
};

vb_r2_t *vb_r2_new(int max_ani, int max_dnis, int dnis_len)
{
    vb_r2_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->ctx = openr2_context_new(&vb_r2mf_iface, &g_evif, NULL, OR2_VAR_CHINA, max_ani, max_dnis);
    if (r->ctx == NULL) {
        free(r);
        return NULL;
    }
    openr2_context_set_ani_first(r->ctx, 0);   /* China: DNIS first (pitfall 1) */
    r->dnis_len = dnis_len;
    r->debug = getenv("REXIAN_R2_DEBUG") != NULL;
    openr2_context_set_log_level(r->ctx, r->debug ? OR2_LOG_ALL : OR2_LOG_NOTHING);
    return r;
}

void vb_r2_free(vb_r2_t *r)
{
    int i;

    if (r == NULL)
        return;
    openr2_context_delete(r->ctx);     /* frees the channels too (never chan_delete first) */
    for (i = 0; i < r->nchan; i++)
        vb_r2mf_free(r->cd[i].mf);
    free(r);
}

int vb_r2_add_chan(vb_r2_t *r, int fd)
{
    openr2_chan_t *c;
    int i;

    if (r == NULL || r->nchan >= VB_R2_MAX_CHANS)
        return -VB_EFULL;
    i = r->nchan;
    if ((r->cd[i].mf = vb_r2mf_new()) == NULL)
        return -VB_EFULL;
    c = openr2_chan_new_from_fd(r->ctx, fd, r->cd[i].mf, r->cd[i].mf);
    if (c == NULL) {
        vb_r2mf_free(r->cd[i].mf);
        r->cd[i].mf = NULL;
        return -VB_ESYS;
    }
    r->cd[i].r = r;
    r->cd[i].idx = i;
    r->chans[i] = c;
    r->nchan++;
    openr2_chan_set_client_data(c, &r->cd[i]);
    openr2_chan_set_logging_func(c, on_chan_log);
    openr2_chan_set_log_level(c, r->debug ? OR2_LOG_ALL : OR2_LOG_NOTHING);
    openr2_chan_set_idle(c);
    return i;
}

static openr2_chan_t *chan_of(vb_r2_t *r, int i)
{
    return (r && i >= 0 && i < r->nchan) ? r->chans[i] : NULL;
}

int vb_r2_process(vb_r2_t *r, int i)
{
    openr2_chan_t *c = chan_of(r, i);

    return c ? openr2_chan_process_event(c) : -VB_ECHAN;
}

int vb_r2_time_to_next(vb_r2_t *r, int i)
{
    openr2_chan_t *c = chan_of(r, i);

    return c ? openr2_chan_get_time_to_next_event(c) : -1;
}

int vb_r2_accept(vb_r2_t *r, int i, int charge)
{
    openr2_chan_t *c = chan_of(r, i);

    if (c == NULL)
        return -VB_ECHAN;
    return openr2_chan_accept_call(c, charge ? OR2_CALL_WITH_CHARGE : OR2_CALL_NO_CHARGE) ? -VB_ESTATE : 0;
}

int vb_r2_answer(vb_r2_t *r, int i)
{
    openr2_chan_t *c = chan_of(r, i);

    if (c == NULL)
        return -VB_ECHAN;
    return openr2_chan_answer_call(c) ? -VB_ESTATE : 0;
}

int vb_r2_disconnect(vb_r2_t *r, int i, int cause)
{
    openr2_chan_t *c = chan_of(r, i);
    openr2_call_disconnect_cause_t k;

    if (c == NULL)
        return -VB_ECHAN;
    switch (cause) {
    case VB_R2_CAUSE_BUSY: k = OR2_CAUSE_BUSY_NUMBER; break;
    case VB_R2_CAUSE_CONGESTION: k = OR2_CAUSE_NETWORK_CONGESTION; break;
    case VB_R2_CAUSE_UNALLOCATED: k = OR2_CAUSE_UNALLOCATED_NUMBER; break;
    default: k = OR2_CAUSE_NORMAL_CLEARING; break;
    }
    return openr2_chan_disconnect_call(c, k) ? -VB_ESTATE : 0;
}

int vb_r2_get_events(vb_r2_t *r, vb_r2_event_t *out, int max)
{
    int n = 0;

    if (r == NULL)
        return -VB_EINVAL;
    while (n < max && r->ev_count > 0) {
        out[n++] = r->evq[r->ev_head];
        r->ev_head = (r->ev_head + 1) % R2_EVQ;
        r->ev_count--;
    }
    return n;
}

const char *vb_r2_state(vb_r2_t *r, int i)
{
    openr2_chan_t *c = chan_of(r, i);

    return c ? openr2_chan_get_r2_state_string(c) : "";
}

static openr2_calling_party_category_t category_of(int ka)
{
    switch (ka) {
    case 2: return OR2_CALLING_PARTY_CATEGORY_NATIONAL_PRIORITY_SUBSCRIBER;
    case 3: return OR2_CALLING_PARTY_CATEGORY_TEST_EQUIPMENT;
    case 7: return OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_SUBSCRIBER;
    case 9: return OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_PRIORITY_SUBSCRIBER;
    default: return OR2_CALLING_PARTY_CATEGORY_NATIONAL_SUBSCRIBER;
    }
}

static int all_digits(const char *s, int allow_empty)
{
    if (s == NULL || (*s == '\0' && !allow_empty) || strlen(s) >= VB_R2_NUM_MAX)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int vb_r2_make_call(vb_r2_t *r, int i, const char *ani, const char *dnis, int category)
{
    openr2_chan_t *c = chan_of(r, i);

    if (c == NULL)
        return -VB_ECHAN;
    if (!all_digits(dnis, 0) || !all_digits(ani ? ani : "", 1) || category < 1 || category > 9)
        return -VB_EINVAL;
    vb_r2mf_arm(r->cd[i].mf, ani, dnis, (char) ('0' + category));
    if (openr2_chan_make_call(c, (ani && *ani) ? ani : NULL, dnis, category_of(category)) != 0) {
        vb_r2mf_disarm(r->cd[i].mf);
        return -VB_ESTATE;
    }
    return 0;
}

int vb_r2_block(vb_r2_t *r, int i)
{
    openr2_chan_t *c = chan_of(r, i);

    if (c == NULL)
        return -VB_ECHAN;
    vb_r2mf_disarm(r->cd[i].mf);
    return openr2_chan_set_blocked(c) ? -VB_ESYS : 0;
}

int vb_r2_set_idle(vb_r2_t *r, int i)
{
    openr2_chan_t *c = chan_of(r, i);

    if (c == NULL)
        return -VB_ECHAN;
    vb_r2mf_disarm(r->cd[i].mf);
    return openr2_chan_set_idle(c) ? -VB_ESYS : 0;
}

void vb_r2_set_mf_back_timeout(vb_r2_t *r, int ms)
{
    if (r && ms > 0)
        openr2_context_set_mf_back_timeout(r->ctx, ms);
}
