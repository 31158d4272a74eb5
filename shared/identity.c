#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git-util.h"
#include "nearby-error.h"

typedef struct gnutls_x509_privkey_int NearbyPrivkey;
typedef struct gnutls_x509_crt_int NearbyCrt;
typedef struct gnutls_pubkey_st NearbyPubkey;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyPrivkey, gnutls_x509_privkey_deinit)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyCrt, gnutls_x509_crt_deinit)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyPubkey, gnutls_pubkey_deinit)

typedef gnutls_datum_t NearbyDatum;
static void
datum_clear (NearbyDatum *datum)
{
  gnutls_free (datum->data);
  datum->data = NULL;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NearbyDatum, datum_clear)

/* Crockford's base32: no I, L, O or U, so that nothing read aloud is
 * mistaken for something else. */
static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#define SHORT_CODE_CHARS 8

static gboolean
decode_pin (const char *key, guint8 digest[NEARBY_KEY_DIGEST_BYTES])
{
  const char *b64;
  gsize len = 0;
  g_autofree guchar *raw = NULL;

  if (key == NULL || !g_str_has_prefix (key, NEARBY_KEY_PREFIX))
    return FALSE;
  b64 = key + strlen (NEARBY_KEY_PREFIX);
  /* 32 bytes are 44 characters with one '='; g_base64_decode() skips
   * anything that is not base64, so the alphabet is checked here. */
  if (strlen (b64) != 44 || b64[43] != '=')
    return FALSE;
  for (int i = 0; i < 43; i++)
    if (!g_ascii_isalnum (b64[i]) && b64[i] != '+' && b64[i] != '/')
      return FALSE;
  raw = g_base64_decode (b64, &len);
  if (len != NEARBY_KEY_DIGEST_BYTES)
    return FALSE;
  memcpy (digest, raw, NEARBY_KEY_DIGEST_BYTES);
  return TRUE;
}

static char *
pin_of_digest (const guint8 *digest)
{
  g_autofree char *b64 = g_base64_encode (digest, NEARBY_KEY_DIGEST_BYTES);

  return g_strconcat (NEARBY_KEY_PREFIX, b64, NULL);
}

gboolean
nearby_key_is_valid (const char *key)
{
  guint8 digest[NEARBY_KEY_DIGEST_BYTES];

  return decode_pin (key, digest);
}

char *
nearby_key_from_url_form (const char *url_form)
{
  char b64[45];
  gsize len = url_form != NULL ? strlen (url_form) : 0;
  g_autofree char *pin = NULL;

  if (len == 44 && url_form[43] == '=')
    len = 43;
  if (len != 43)
    return NULL;
  for (gsize i = 0; i < 43; i++)
    {
      char c = url_form[i];

      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      else if (!g_ascii_isalnum (c))
        return NULL;
      b64[i] = c;
    }
  b64[43] = '=';
  b64[44] = '\0';
  pin = g_strconcat (NEARBY_KEY_PREFIX, b64, NULL);
  /* The last character carries 4 bits of padding, which must be zero for
   * the spelling to be the one spelling of its key. */
  if (!nearby_key_is_valid (pin))
    return NULL;
  {
    g_autofree char *again = nearby_key_to_url_form (pin);

    if (strncmp (again, url_form, 43) != 0)
      return NULL;
  }
  return g_steal_pointer (&pin);
}

char *
nearby_key_to_url_form (const char *key)
{
  guint8 digest[NEARBY_KEY_DIGEST_BYTES];
  char *out;

  if (!decode_pin (key, digest))
    return NULL;
  out = g_base64_encode (digest, sizeof digest);
  for (char *c = out; *c != '\0'; c++)
    if (*c == '+')
      *c = '-';
    else if (*c == '/')
      *c = '_';
    else if (*c == '=')
      *c = '\0';
  return out;
}

static gboolean
short_code_chars (const char *key, char out[SHORT_CODE_CHARS])
{
  guint8 digest[NEARBY_KEY_DIGEST_BYTES];
  guint64 bits = 0;

  if (!decode_pin (key, digest))
    return FALSE;
  for (int i = 0; i < 5; i++)
    bits = bits << 8 | digest[i];
  for (int i = SHORT_CODE_CHARS - 1; i >= 0; i--, bits >>= 5)
    out[i] = crockford[bits & 31];
  return TRUE;
}

char *
nearby_key_short_code (const char *key)
{
  char chars[SHORT_CODE_CHARS];

  if (!short_code_chars (key, chars))
    return NULL;
  return g_strdup_printf ("%.4s-%.4s", chars, chars + 4);
}

/* The eight characters of a short code as typed, normalised; FALSE if
 * @spec is not spelled like one. */
static gboolean
parse_short_code (const char *spec, char out[SHORT_CODE_CHARS])
{
  gsize n = 0;

  for (const char *c = spec; *c != '\0'; c++)
    {
      char u = g_ascii_toupper (*c);

      if (*c == '-' && c - spec == 4 && n == 4)
        continue;
      if (u == 'O')
        u = '0';
      else if (u == 'I' || u == 'L')
        u = '1';
      if (n == SHORT_CODE_CHARS || strchr (crockford, u) == NULL || u == '\0')
        return FALSE;
      out[n++] = u;
    }
  return n == SHORT_CODE_CHARS;
}

gboolean
nearby_key_spec_is_key (const char *spec)
{
  char code[SHORT_CODE_CHARS];
  g_autofree char *pin = NULL;

  if (spec == NULL)
    return FALSE;
  if (nearby_key_is_valid (spec) || parse_short_code (spec, code))
    return TRUE;
  pin = nearby_key_from_url_form (spec);
  return pin != NULL;
}

gboolean
nearby_key_matches (const char *key, const char *spec)
{
  char code[SHORT_CODE_CHARS];
  char mine[SHORT_CODE_CHARS];
  g_autofree char *pin = NULL;

  if (key == NULL || spec == NULL || !nearby_key_is_valid (key))
    return FALSE;
  if (strcmp (key, spec) == 0)
    return TRUE;
  if (parse_short_code (spec, code))
    return short_code_chars (key, mine) && memcmp (code, mine, SHORT_CODE_CHARS) == 0;
  pin = nearby_key_from_url_form (spec);
  return pin != NULL && strcmp (pin, key) == 0;
}

void
nearby_identity_free (NearbyIdentity *identity)
{
  if (identity == NULL)
    return;
  g_clear_object (&identity->certificate);
  g_free (identity->key);
  g_free (identity->path);
  g_free (identity);
}

char *
nearby_identity_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "git-nearby", "identity.pem", NULL);
}

static gboolean
tls_error (GError **error, int code, const char *what)
{
  g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "%s: %s", what, gnutls_strerror (code));
  return FALSE;
}

char *
nearby_key_of_certificate (const guint8 *data, gsize len, gboolean pem, GError **error)
{
  g_autoptr (NearbyCrt) crt = NULL;
  g_autoptr (NearbyPubkey) pubkey = NULL;
  g_auto (NearbyDatum) spki = { NULL, 0 };
  gnutls_datum_t in = { (unsigned char *) data, (unsigned int) len };
  guint8 digest[NEARBY_KEY_DIGEST_BYTES];
  gsize digest_len = sizeof digest;
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  int code;

  if ((code = gnutls_x509_crt_init (&crt)) < 0
      || (code = gnutls_x509_crt_import (crt, &in, pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER))
             < 0)
    {
      tls_error (error, code, "cannot read the certificate");
      return NULL;
    }
  /* curl's pin is the hash of exactly these DER bytes. */
  if ((code = gnutls_pubkey_init (&pubkey)) < 0
      || (code = gnutls_pubkey_import_x509 (pubkey, crt, 0)) < 0
      || (code = gnutls_pubkey_export2 (pubkey, GNUTLS_X509_FMT_DER, &spki)) < 0)
    {
      tls_error (error, code, "cannot read the certificate's public key");
      return NULL;
    }
  g_checksum_update (checksum, spki.data, spki.size);
  g_checksum_get_digest (checksum, digest, &digest_len);
  return pin_of_digest (digest);
}

/* Sets @error from errno value @saved: "cannot @what @path: <reason>". */
static gboolean
errno_error (GError **error, int saved, const char *what, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot %s %s: %s", what, path,
               g_strerror (saved));
  return FALSE;
}

/* A new key and certificate, as one PEM text: certificate first. */
static char *
generate (GError **error)
{
  g_autoptr (NearbyPrivkey) key = NULL;
  g_autoptr (NearbyCrt) crt = NULL;
  g_auto (NearbyDatum) key_pem = { NULL, 0 };
  g_auto (NearbyDatum) crt_pem = { NULL, 0 };
  guint8 serial[16];
  static const char common_name[] = "git-nearby";
  int code;

  for (gsize i = 0; i < sizeof serial; i++)
    serial[i] = (guint8) g_random_int_range (0, 256);
  serial[0] &= 0x7f; /* a positive serial number (RFC 5280 §4.1.2.2) */

  /* ECDSA P-256: every TLS stack git may be built with (GnuTLS, OpenSSL,
   * Secure Transport, Schannel) takes it, in TLS 1.2 as in 1.3, and its
   * handshakes are cheap; Ed25519 certificates are not that universal. */
  if ((code = gnutls_x509_privkey_init (&key)) < 0
      || (code = gnutls_x509_privkey_generate2 (
              key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0))
             < 0)
    return tls_error (error, code, "cannot generate a key"), NULL;

  /* Self-signed and without a well-defined expiry (RFC 5280 §4.1.2.5):
   * nobody checks a chain; the key is what the pin names. */
  if ((code = gnutls_x509_crt_init (&crt)) < 0 || (code = gnutls_x509_crt_set_version (crt, 3)) < 0
      || (code = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) < 0
      || (code = gnutls_x509_crt_set_activation_time (crt, time (NULL) - 24 * 3600)) < 0
      || (code = gnutls_x509_crt_set_expiration_time (crt, GNUTLS_X509_NO_WELL_DEFINED_EXPIRATION))
             < 0
      || (code = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, common_name,
                                                strlen (common_name)))
             < 0
      || (code = gnutls_x509_crt_set_key (crt, key)) < 0
      || (code = gnutls_x509_crt_set_basic_constraints (crt, 0, -1)) < 0
      || (code = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0
      || (code = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
    return tls_error (error, code, "cannot make a certificate"), NULL;

  if ((code = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &crt_pem)) < 0
      || (code = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
                                                    GNUTLS_PKCS_PLAIN, &key_pem))
             < 0)
    return tls_error (error, code, "cannot write the key"), NULL;
  return g_strdup_printf ("%.*s%.*s", (int) crt_pem.size, crt_pem.data, (int) key_pem.size,
                          key_pem.data);
}

/* Writes a new identity at @path unless one appears there first: the file
 * is written whole under another name and linked into place, so nobody
 * ever reads half a key and a second server starting at the same moment
 * keeps the first one's. */
static gboolean
create (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *tmp = g_strconcat (path, ".XXXXXX", NULL);
  g_autofree char *pem = NULL;
  gsize len, done = 0;
  int fd;

  if (g_mkdir_with_parents (dir, 0700) < 0)
    return errno_error (error, errno, "create", dir);
  if ((pem = generate (error)) == NULL)
    return FALSE;
  len = strlen (pem);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno_error (error, errno, "write in", dir);
  while (done < len)
    {
      ssize_t n = write (fd, pem + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      done += n;
    }
  if (done < len || fsync (fd) < 0)
    {
      int saved = errno != 0 ? errno : EIO;

      close (fd);
      g_unlink (tmp);
      return errno_error (error, saved, "write", tmp);
    }
  close (fd);
  if (link (tmp, path) < 0 && errno != EEXIST)
    {
      int saved = errno;

      g_unlink (tmp);
      return errno_error (error, saved, "create", path);
    }
  g_unlink (tmp);
  return TRUE;
}

NearbyIdentity *
nearby_identity_load (const char *path, gboolean create_it, GError **error)
{
  g_autoptr (NearbyIdentity) identity = g_new0 (NearbyIdentity, 1);
  g_autofree char *pem = NULL;
  g_autoptr (GByteArray) der = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize len = 0;
  GStatBuf st;

  /* Checked first, so that nothing is written that could not be used. */
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_FAILED,
                           "GLib has no TLS support here; install glib-networking");
      return NULL;
    }
  if (g_stat (path, &st) < 0)
    {
      if (errno != ENOENT || !create_it)
        return errno_error (error, errno, "read", path), NULL;
      if (!create (path, error))
        return NULL;
      if (g_stat (path, &st) < 0)
        return errno_error (error, errno, "read", path), NULL;
    }
  if ((st.st_mode & 077) != 0)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                   "%s holds a private key and others may read it; run chmod 600 %s", path, path);
      return NULL;
    }
  if (!g_file_get_contents (path, &pem, &len, error))
    return NULL;
  identity->certificate = g_tls_certificate_new_from_pem (pem, len, &local_error);
  if (identity->certificate == NULL)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "%s is not a key and certificate: %s",
                   path, local_error->message);
      return NULL;
    }
  {
    g_autofree char *private_key = NULL;

    g_object_get (identity->certificate, "private-key-pem", &private_key, NULL);
    if (private_key == NULL)
      {
        g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "%s has no private key", path);
        return NULL;
      }
  }
  g_object_get (identity->certificate, "certificate", &der, NULL);
  if (der == NULL
      || (identity->key = nearby_key_of_certificate (der->data, der->len, FALSE, error)) == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "%s has no certificate", path);
      return NULL;
    }
  identity->path = g_strdup (path);
  return g_steal_pointer (&identity);
}

/* The name the owner chose to show: nearby.owner, else user.name, from
 * the user's own git config (global, XDG, system), never a repository's:
 * it names the person serving, whatever repositories are served. Never
 * user.email: an address should not be broadcast to the LAN. NULL: none. */
char *
nearby_owner_name (void)
{
  static const char *const keys[] = { "nearby.owner", "user.name" };
  g_autoptr (git_config) config = NULL;

  if (git_config_open_default (&config) < 0)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      git_buf value = GIT_BUF_INIT;
      g_autofree char *owner = NULL;

      if (git_config_get_string_buf (&value, config, keys[i]) < 0)
        continue;
      owner = g_utf8_make_valid (value.ptr, -1);
      git_buf_dispose (&value);
      g_strstrip (owner);
      for (char *p = owner; *p != '\0'; p++)
        if (g_ascii_iscntrl (*p))
          *p = ' ';
      if (*owner != '\0')
        return g_steal_pointer (&owner);
    }
  return NULL;
}
