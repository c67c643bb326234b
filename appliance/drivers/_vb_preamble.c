/* cffi set_source preamble for appliance.drivers._vb: the engine's one public header. */
#include "vb.h"
#include "r2.h"
#include "dahdisim.h"
#include "dahdi.h"
