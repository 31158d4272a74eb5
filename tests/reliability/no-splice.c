/* Preloaded into the server by reliability/cache.sh: splice(2) fails with
 * EINVAL, as on a file system that has none (ecryptfs), so that the pack
 * cache's other way into its files is taken. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

ssize_t
splice (int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags)
{
  errno = EINVAL;
  return -1;
}
