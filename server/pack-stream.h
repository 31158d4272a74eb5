/* git-nearby: runs the pack-objects command of a NearbyPackPlan and streams
 * its output into an HTTP response: pack on sideband 1, progress on 2, errors
 * on 3, keepalives while git is silent. A client that hangs up kills git. */
#pragma once

#include <libsoup/soup.h>

#include "upload-pack.h"

G_BEGIN_DECLS

/* Takes @plan. The message must already have its status and headers; this
 * pauses it and finishes the body itself. @gitdir is where git runs. */
void nearby_pack_stream_start (SoupServerMessage *msg, NearbyPackPlan *plan, const char *gitdir,
                               const char *label);

G_END_DECLS
