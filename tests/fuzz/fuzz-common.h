/* What the harnesses share: inputs as C strings, and checks on text that
 * will reach a terminal or JSON. */
#pragma once

#include <glib.h>
#include <string.h>

#include "untrusted.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* The input cut at NUL bytes into at most @max strings (a DNS-SD TXT
 * record is a list of strings; a C string cannot hold a NUL). */
static inline GStrv
fuzz_split (const guint8 *data, size_t size, guint max)
{
  GPtrArray *parts = g_ptr_array_new ();
  gsize start = 0;

  for (gsize i = 0; i <= size && parts->len < max; i++)
    if (i == size || data[i] == '\0')
      {
        g_ptr_array_add (parts, g_strndup ((const char *) data + start, i - start));
        start = i + 1;
      }
  g_ptr_array_add (parts, NULL);
  return (GStrv) g_ptr_array_free (parts, FALSE);
}

/* Text fit for a terminal: valid UTF-8 with no control or invisible
 * character. Error messages about network input must be such text. */
static inline void
fuzz_check_text (const char *s)
{
  g_assert (g_utf8_validate (s, -1, NULL));
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      g_assert (!g_unichar_iscntrl (c));
      g_assert (!nearby_unichar_is_invisible (c));
    }
}

/* What nearby_untrusted_escape() promises. */
static inline void
fuzz_check_escaped (const char *s)
{
  g_autofree char *shown = nearby_untrusted_escape (s);

  fuzz_check_text (shown);
}
