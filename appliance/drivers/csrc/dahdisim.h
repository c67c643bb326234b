/*
 * dahdisim.h - taps on E1 channels (run in the media thread) and the
 * DAHDI-compatible channel emulation for libopenr2 (dahdisim.c), plus the
 * R2 glue (r2.c) and the scripted China exchange (r2x.c).  See docs/r2.md.
 */
#ifndef REXIAN_DAHDISIM_H
#define REXIAN_DAHDISIM_H

#include <stdint.h>
#include "vb.h"

typedef struct vb_tap_s vb_tap_t;
typedef struct vb_dsim_s vb_dsim_t;

/* Per tick, in the media thread: rx = the 160 A-law bytes from the line, cas_rx = the far
   end's ABCD bits, line_up = cable present; the tap may fill tx (then *has_tx = 1: mixed
   into the channel's TX) and sets *cas_tx (the ABCD bits this end sends). */
typedef void (*vb_tap_frame_fn)(vb_tap_t *t, const uint8_t *rx, int cas_rx, int line_up,
                                uint8_t *tx, int *has_tx, int *cas_tx);

struct vb_tap_s {
    vb_tap_t *next;
    vb_board_t *b;
    int chan;
    void *ctx;
    vb_tap_frame_fn frame;
    uint8_t txbuf[VB_FRAME_SAMPLES];
    int has_tx;
};

void vb_tap_add(vb_tap_t *t);
void vb_tap_remove(vb_tap_t *t);       /* after it returns, the media thread no longer uses t */

/* engine.c hooks (media thread) */
void vb_dahdi_tick_rx(vb_board_t *b);  /* after phase 1 */
void vb_dahdi_tick_tx(vb_board_t *b);  /* after phase 2a */

/* public (also in _vb.cdef) */
int vb_dahdi_install(void);
int vb_dahdi_open(vb_board_t *b, int chan);
int vb_dahdi_close(int fd);

#endif
