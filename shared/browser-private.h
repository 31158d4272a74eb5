/* git-nearby: browser.c's hooks for tests. */
#pragma once

#include "browser.h"

G_BEGIN_DECLS

/* The logical service a resolved copy of @instance belongs to: copies with
 * the same key here are merged into one NearbyService. */
char *nearby_browser_merge_key (const char *instance, const NearbyService *s);

G_END_DECLS
