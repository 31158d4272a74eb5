/* git-nearby: the error domain shared by the server and the client. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NEARBY_ERROR (nearby_error_quark ())

typedef enum
{
  NEARBY_ERROR_FAILED,    /* anything without a better code */
  NEARBY_ERROR_INVALID,   /* bad input: a name, an argument, a request */
  NEARBY_ERROR_NOT_FOUND, /* no such branch, repository or name */
  NEARBY_ERROR_EXISTS,    /* the name is already taken */
  NEARBY_ERROR_GIT,       /* libgit2 said no; the message is libgit2's */
  NEARBY_ERROR_TOO_LARGE, /* a request over one of our caps */
  NEARBY_ERROR_TIMED_OUT, /* gave up waiting: not the same as not found */
} NearbyError;

GQuark nearby_error_quark (void);

G_END_DECLS
