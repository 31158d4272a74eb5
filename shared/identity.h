/* git-nearby: who a server is — a key it made itself.
 *
 * A server's identity is the SHA-256 of its certificate's
 * SubjectPublicKeyInfo, written as curl's pin "sha256//<base64>" (the very
 * string git's http.pinnedPubkey takes). Three spellings of one key:
 *
 *   pin        sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw=   (config, TXT key=)
 *   URL form   1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw             (base64url, in nearby:// URLs)
 *   short code 3PJS-3G8Y                                              (read aloud, compared)
 *
 * The short code is the first 40 bits of the hash in Crockford's base32:
 * enough for two people to see that they look at the same key, never used
 * to trust one (an attacker can grind 40 bits; the pin is what curl checks).
 *
 * The key pair and its self-signed certificate live in one PEM file,
 * $XDG_CONFIG_HOME/git-nearby/identity.pem, mode 0600. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NEARBY_KEY_PREFIX "sha256//"
#define NEARBY_KEY_DIGEST_BYTES 32

/* Whether @key is a pin: "sha256//" and the standard base64 of 32 bytes. */
gboolean nearby_key_is_valid (const char *key);

/* The pin of a URL form (43 base64url characters, padding optional), or
 * NULL if @url_form is not one. */
char *nearby_key_from_url_form (const char *url_form);

/* The URL form of a valid pin. */
char *nearby_key_to_url_form (const char *key);

/* "3PJS-3G8Y" for a valid pin. */
char *nearby_key_short_code (const char *key);

/* Whether @spec names @key: the pin itself, its URL form, or its short code
 * (case-insensitive, the dash optional, O read as 0 and I, L as 1). */
gboolean nearby_key_matches (const char *key, const char *spec);

/* Whether @spec is spelled like a key: a pin, a URL form or a short code. */
gboolean nearby_key_spec_is_key (const char *spec);

typedef struct
{
  GTlsCertificate *certificate; /* with its private key */
  char *key;                    /* the pin */
  char *path;                   /* the PEM file */
} NearbyIdentity;

void nearby_identity_free (NearbyIdentity *identity);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyIdentity, nearby_identity_free)

/* $XDG_CONFIG_HOME/git-nearby/identity.pem */
char *nearby_identity_path (void);

/* Loads the identity at @path; when there is none and @create, makes one
 * (an ECDSA P-256 key and a self-signed certificate with no expiry), writes
 * it with mode 0600 in a 0700 directory and loads that. Two servers
 * starting at once end up with the same identity. A file that others may
 * read is refused, as ssh refuses such a private key. */
NearbyIdentity *nearby_identity_load (const char *path, gboolean create, GError **error);

/* The pin of a PEM or DER certificate. */
char *nearby_key_of_certificate (const guint8 *data, gsize len, gboolean pem, GError **error);

/* The name the owner chose to show: nearby.owner, else user.name, from the
 * user's own git config (global, XDG, system), never a repository's; never
 * user.email. Valid UTF-8, control characters made spaces. NULL: none. */
char *nearby_owner_name (void);

G_END_DECLS
