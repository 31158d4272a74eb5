/* git-nearby: the DNS-SD TXT record of an advertised branch, schema v1.
 *
 *   txtvers=1  name=<advertised name>  path=/<percent-encoded name>
 *   ref=refs/heads/<branch>  head=<commit id>  repo=<root commit id>
 *   key=sha256//<base64>  owner=<display name>  subject=<head's subject>
 *   date=<head's commit time, seconds since 1970>
 *
 * head, repo and subject are absent while the branch has no commits. key
 * is the server's identity (identity.h) and owner the name its owner chose
 * to show (never an e-mail address): both are hints that anyone can copy;
 * the TLS handshake is what proves a key. Keys are at most 9 characters;
 * the whole record stays under 400 bytes: txtvers, name, path, ref and key
 * must fit; head, repo and date are added whole if they fit, then owner and
 * subject cut (on a UTF-8 boundary) to what room is left. Clients before key, owner and
 * subject ignore them, so txtvers stays 1. */
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
  char *head;    /* NULL: no commits yet */
  char *repo;    /* NULL: no commits yet */
  char *key;     /* NULL: a server from before identities */
  char *owner;   /* NULL: none given */
  char *subject; /* NULL: none given */
  char *date;    /* the head's commit time, decimal seconds since 1970; NULL: none given */
} NearbyTxt;

#define NEARBY_TXT_OWNER_MAX_BYTES 48
#define NEARBY_TXT_SUBJECT_MAX_BYTES 72

void nearby_txt_clear (NearbyTxt *txt);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NearbyTxt, nearby_txt_clear)

/* "key=value" strings, txtvers first; fails if the required ones do not
 * fit. */
GStrv nearby_txt_encode (const NearbyTxt *txt, GError **error);

/* Reads "key=value" strings. Unknown keys are ignored; a missing or other
 * txtvers, a missing or invalid name (nearby_name_validate()), or a path
 * that is not exactly nearby_name_to_path (name) is an error. ref is made
 * valid UTF-8; head and repo that are not commit ids, a key that is not
 * a pin and a date that is not 1 to 12 digits are dropped; owner and subject are made valid UTF-8 and cut to
 * their maximum (they are shown, escaped, never trusted). */
gboolean nearby_txt_decode (const char *const *strings, NearbyTxt *txt, GError **error);

G_END_DECLS
