#include "nearby-error.h"

G_DEFINE_QUARK (nearby - error - quark, nearby_error)
