/* plugins/bgp/files: every file bgp.so writes (BIRD's main config, the
 * include file, the candidate and the check wrapper) is written here, and
 * wgmd usually runs as root: so never through a name someone else could
 * have planted.  A file is created by mkostemp() (O_CREAT|O_EXCL: a symlink
 * or an existing file in its place is refused, never followed) beside its
 * final name, in a directory this process owns and nobody else may write,
 * filled and fsync'ed, then renamed over the final name.  The new file gets
 * mode 0640 and the directory's group, so a BIRD running as its own user
 * in that group (Debian's /etc/bird is root:bird) can read it and nobody
 * else can read the session passwords in it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* shared with apply.c and plugin.c */
int bgp_file_temp(const char *path, const char *text, char *tmp, size_t tmplen);
int bgp_file_commit(const char *tmp, const char *path);
int bgp_file_replace(const char *path, const char *text);
char *bgp_file_read(const char *path);

#define BGP_FILE_MODE 0640

/* The directory part of @path into @dir ("." when there is none). */
static int dir_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (!slash) {
        snprintf(dir, len, ".");
        return 0;
    }
    if (n == 0)
        n = 1; /* "/file" */
    if (n >= len)
        return -ENAMETOOLONG;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return 0;
}

/* @dir is a directory owned by this process's user that no other user may
 * write: nobody else can swap a name in it between our steps.  Its group
 * into *@gid. */
static int dir_safe(const char *dir, gid_t *gid)
{
    struct stat st;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    close(fd);
    if (st.st_uid != geteuid() || (st.st_mode & S_IWOTH))
        return -EPERM;
    *gid = st.st_gid;
    return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A new file holding @text beside @path (same directory, so the rename is
 * atomic); its name into @tmp.  Nothing is left behind on failure. */
int bgp_file_temp(const char *path, const char *text, char *tmp, size_t tmplen)
{
    char dir[PATH_MAX];
    const char *base = strrchr(path, '/');
    gid_t gid = 0;
    int fd, r;

    base = base ? base + 1 : path;
    if (!*base)
        return -EINVAL;
    if ((r = dir_of(path, dir, sizeof(dir))) < 0 || (r = dir_safe(dir, &gid)) < 0)
        return r;
    if ((size_t)snprintf(tmp, tmplen, "%s/.%s.XXXXXX", dir, base) >= tmplen)
        return -ENAMETOOLONG;
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
        return -errno;
    /* the group may be refused (not a member): the mode still holds */
    if ((fchown(fd, (uid_t)-1, gid) < 0 && errno != EPERM) || fchmod(fd, BGP_FILE_MODE) < 0 ||
        (r = write_all(fd, text, strlen(text))) < 0 || fsync(fd) < 0) {
        r = r < 0 ? r : -errno;
        close(fd);
        unlink(tmp);
        return r;
    }
    if (close(fd) < 0) {
        r = -errno;
        unlink(tmp);
        return r;
    }
    return 0;
}

/* Rename @tmp (from bgp_file_temp) over @path and make the rename durable.
 * On failure @tmp is removed. */
int bgp_file_commit(const char *tmp, const char *path)
{
    char dir[PATH_MAX];
    int fd;
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    if (dir_of(path, dir, sizeof(dir)) == 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

int bgp_file_replace(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    int r = bgp_file_temp(path, text, tmp, sizeof(tmp));
    return r < 0 ? r : bgp_file_commit(tmp, path);
}

/* The whole of @path (new, NUL-terminated), or NULL; a symlink in its
 * place is not followed. */
char *bgp_file_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    char *buf = NULL;
    size_t len = 0;
    FILE *m;
    if (fd < 0)
        return NULL;
    if ((m = open_memstream(&buf, &len))) {
        char chunk[4096];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR))
            if (n > 0)
                fwrite(chunk, 1, (size_t)n, m);
        if (fclose(m) != 0 || n < 0) {
            free(buf);
            buf = NULL;
        }
    }
    close(fd);
    return buf;
}
