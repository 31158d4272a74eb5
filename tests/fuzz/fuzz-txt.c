/* libFuzzer harness: the TXT record decoder (shared/txt-record.c). The
 * input is the record's strings separated by NUL bytes. */
#include "fuzz-common.h"
#include "name.h"
#include "identity.h"
#include "txt-record.h"

static gboolean
is_id (const char *s)
{
  if (strlen (s) != 40)
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isdigit (*s) && !(*s >= 'a' && *s <= 'f'))
      return FALSE;
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_auto (GStrv) strings = fuzz_split (data, size, 64);
  g_auto (NearbyTxt) txt = { 0 };
  g_autoptr (GError) error = NULL;

  for (char **s = strings; *s != NULL; s++)
    fuzz_check_escaped (*s);

  if (!nearby_txt_decode ((const char *const *) strings, &txt, &error))
    {
      g_assert (error != NULL);
      fuzz_check_text (error->message);
      g_assert (txt.name == NULL && txt.path == NULL && txt.ref == NULL);
      return 0;
    }
  g_assert (error == NULL);

  /* What a decoded record promises its readers. */
  g_assert (nearby_name_validate (txt.name, NULL));
  {
    g_autofree char *path = nearby_name_to_path (txt.name);
    g_autofree char *back = NULL;

    g_assert_cmpstr (txt.path, ==, path);
    g_assert (strchr (txt.path, '?') == NULL && strchr (txt.path, '#') == NULL);
    back = nearby_name_from_path (txt.path + 1, strlen (txt.path + 1), NULL);
    g_assert_cmpstr (back, ==, txt.name);
  }
  g_assert (txt.ref == NULL || g_utf8_validate (txt.ref, -1, NULL));
  g_assert (txt.head == NULL || is_id (txt.head));
  g_assert (txt.repo == NULL || is_id (txt.repo));

  g_assert (txt.key == NULL || nearby_key_is_valid (txt.key));
  g_assert (txt.owner == NULL
            || (g_utf8_validate (txt.owner, -1, NULL)
                && strlen (txt.owner) <= NEARBY_TXT_OWNER_MAX_BYTES));
  g_assert (txt.subject == NULL
            || (g_utf8_validate (txt.subject, -1, NULL)
                && strlen (txt.subject) <= NEARBY_TXT_SUBJECT_MAX_BYTES));

  /* Encoded again (when it fits), it decodes to the same record: the
   * required keys exactly, the rest as far as there was room. */
  {
    g_auto (GStrv) again = nearby_txt_encode (&txt, NULL);
    g_auto (NearbyTxt) txt2 = { 0 };

    if (again != NULL)
      {
        g_assert (nearby_txt_decode ((const char *const *) again, &txt2, NULL));
        g_assert_cmpstr (txt2.name, ==, txt.name);
        g_assert_cmpstr (txt2.path, ==, txt.path);
        g_assert_cmpstr (txt2.ref, ==, txt.ref);
        g_assert_cmpstr (txt2.key, ==, txt.key);
        g_assert (txt2.head == NULL || g_strcmp0 (txt2.head, txt.head) == 0);
        g_assert (txt2.repo == NULL || g_strcmp0 (txt2.repo, txt.repo) == 0);
        g_assert (txt2.owner == NULL || g_str_has_prefix (txt.owner, txt2.owner));
        g_assert (txt2.subject == NULL || g_str_has_prefix (txt.subject, txt2.subject));
      }
  }
  return 0;
}
