/* git-nearby: the DNS-SD TXT record of an advertised branch, schema v1.
 *
 *   txtvers=1  name=<advertised name>  path=/<percent-encoded name>
 *   ref=refs/heads/<branch>  head=<commit id>  repo=<root commit id>
 *
 * head and repo are absent while the branch has no commits. No personal
 * data; keys are at most 9 characters; the whole record stays under 400
 * bytes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NEARBY_SERVICE_TYPE "_git-http._tcp"
#define NEARBY_TXT_VERSION "1"
#define NEARBY_TXT_MAX_BYTES 400

typedef struct
{
  char *name;
  char *path;
  char *ref;
  char *head; /* NULL: no commits yet */
  char *repo; /* NULL: no commits yet */
} NearbyTxt;

void nearby_txt_clear (NearbyTxt *txt);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NearbyTxt, nearby_txt_clear)

/* "key=value" strings, txtvers first; fails if the record would be too large. */
GStrv nearby_txt_encode (const NearbyTxt *txt, GError **error);

/* Reads "key=value" strings. Unknown keys are ignored; a missing or other
 * txtvers, a missing or invalid name (nearby_name_validate()), or a path
 * that is not exactly nearby_name_to_path (name) is an error. ref is made
 * valid UTF-8; head and repo that are not commit ids are dropped. */
gboolean nearby_txt_decode (const char *const *strings, NearbyTxt *txt, GError **error);

G_END_DECLS
