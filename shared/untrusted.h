/* git-nearby: text that came from the network (TXT values, host names).
 *
 * Anyone on the LAN can advertise anything, so such text is made valid
 * UTF-8 before it reaches JSON, and escaped before it reaches a terminal:
 * a raw ESC could clear the screen or set the window title, a CR or LF
 * could draw fake rows, a bidi override could reorder what is shown. */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* Whether @c is invisible or changes the direction of the text around it:
 * format characters (Cf: U+200B..U+200F, U+202A..U+202E, U+2060..U+2064,
 * U+2066..U+2069, U+FEFF, U+00AD...), line and paragraph separators, and
 * the other default-ignorable code points (U+034F, U+115F, U+1160, U+3164,
 * U+FFA0, variation selectors...). Such a character makes one name look
 * exactly like another. */
gboolean nearby_unichar_is_invisible (gunichar c);

/* A copy of @s that is valid UTF-8: each invalid byte becomes U+FFFD.
 * NULL stays NULL. */
char *nearby_untrusted_utf8 (const char *s);

/* A copy of @s fit for a terminal: valid UTF-8 (as above) with every C0
 * control, DEL and C1 control written as \xHH and every invisible
 * character (see nearby_unichar_is_invisible()) as \uHHHH, so that it
 * shows and cannot act. NULL becomes "". */
char *nearby_untrusted_escape (const char *s);

/* Writes @message to @out line by line, each escaped as above: the first
 * line after @prefix, the others (hints, choices) as they are. An error
 * message may quote a name or host that another machine advertised. */
void nearby_untrusted_print_message (FILE *out, const char *prefix, const char *message);

G_END_DECLS
