/* git-nearby: streams a pack into an HTTP response — from the file a
 * NearbyPackJob writes, as it is written — framed on sideband 1, with
 * pack-objects' progress on band 2, errors on band 3, and keepalives while
 * nothing moves. The client's pace sets the reading; a client that hangs up
 * only stops its own stream. */
#pragma once

#include <libsoup/soup.h>

#include "pack-cache.h"
#include "upload-pack.h"

G_BEGIN_DECLS

/* Takes @plan. The message must already have its status and headers. */
void nearby_pack_stream_start (SoupServerMessage *msg, NearbyPackPlan *plan, NearbyPackCache *cache,
                               const char *gitdir, const char *label);

G_END_DECLS
