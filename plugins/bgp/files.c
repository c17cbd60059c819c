/* plugins/bgp/files: every file bgp.so writes (BIRD's main config, the
 * include file, the candidate and the check wrapper) is written here, and
 * wgmd usually runs as root: so never through a name someone else could
 * have planted.  The directory is opened once and checked on that handle
 * (owned by this process's user, writable by nobody else); the new file is
 * created relative to that handle under a random name with
 * O_CREAT|O_EXCL|O_NOFOLLOW (a symlink or an existing file in its place is
 * refused, never followed), filled and fsync'ed, then renamed over the
 * final name through the same handle, and the directory fsync'ed.  The new
 * file gets mode 0640 and the directory's group, so a BIRD running as its
 * own user in that group (Debian's /etc/bird is root:bird 0750) can read it
 * and nobody else can read the session passwords in it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* shared with apply.c and plugin.c */
int bgp_file_temp(const char *path, const char *text, char *tmp, size_t tmplen);
int bgp_file_commit(const char *tmp, const char *path);
int bgp_file_replace(const char *path, const char *text);
char *bgp_file_read(const char *path);

#define BGP_FILE_MODE 0640
/* random bytes in a temporary name (hex: twice as many characters) */
#define TEMP_RANDOM 8
#define TEMP_TRIES 16

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

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A handle on @path's directory (its name into @dir), which must be owned
 * by this process's user and writable by no group or other user: nobody
 * else can swap a name in it between our steps.  Its group into *@gid.
 * Every later step goes through the handle, never the name again. */
static int dir_open(const char *path, char *dir, size_t dirlen, gid_t *gid)
{
    struct stat st;
    int fd, r;
    if ((r = dir_of(path, dir, dirlen)) < 0)
        return r;
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        return -EPERM;
    }
    if (gid)
        *gid = st.st_gid;
    return fd;
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

/* ".@base.<random hex>" into @name: unguessable, so nobody can plant it
 * ahead of us even where O_EXCL alone would only refuse. */
static int temp_name(const char *base, char *name, size_t len)
{
    unsigned char rnd[TEMP_RANDOM];
    char hex[2 * TEMP_RANDOM + 1];
    size_t got = 0;
    while (got < sizeof(rnd)) {
        ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    if ((size_t)snprintf(name, len, ".%s.%s", base, hex) >= len)
        return -ENAMETOOLONG;
    return 0;
}

/* A new file in @dfd holding @text, its name into @name.  Nothing is left
 * behind on failure. */
static int temp_at(int dfd, gid_t gid, const char *base, const char *text, char *name, size_t namelen)
{
    int fd = -1, r = 0;
    for (int i = 0; i < TEMP_TRIES && fd < 0; i++) {
        if ((r = temp_name(base, name, namelen)) < 0)
            return r;
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            return -errno;
    }
    if (fd < 0)
        return -EEXIST;
    /* the group may be refused (not a member): the mode still holds */
    r = 0;
    if ((fchown(fd, (uid_t)-1, gid) < 0 && errno != EPERM) || fchmod(fd, BGP_FILE_MODE) < 0 ||
        (r = write_all(fd, text, strlen(text))) < 0 || fsync(fd) < 0) {
        r = r < 0 ? r : -errno;
        close(fd);
        unlinkat(dfd, name, 0);
        return r;
    }
    if (close(fd) < 0) {
        r = -errno;
        unlinkat(dfd, name, 0);
        return r;
    }
    return 0;
}

/* Rename @name over @base, both in @dfd, and make it durable.  On failure
 * @name is removed. */
static int commit_at(int dfd, const char *name, const char *base)
{
    if (renameat(dfd, name, dfd, base) < 0) {
        int e = errno;
        unlinkat(dfd, name, 0);
        return -e;
    }
    fsync(dfd); /* the rename happened: a failed flush cannot undo it */
    return 0;
}

/* A new file holding @text beside @path (same directory, so the rename is
 * atomic); its name into @tmp.  Nothing is left behind on failure. */
int bgp_file_temp(const char *path, const char *text, char *tmp, size_t tmplen)
{
    char dir[PATH_MAX], name[NAME_MAX + 1];
    const char *base = base_of(path);
    gid_t gid = 0;
    int dfd, r;

    if (!*base)
        return -EINVAL;
    if ((dfd = dir_open(path, dir, sizeof(dir), &gid)) < 0)
        return dfd;
    if ((r = temp_at(dfd, gid, base, text, name, sizeof(name))) == 0 &&
        (size_t)snprintf(tmp, tmplen, "%s/%s", dir, name) >= tmplen) {
        unlinkat(dfd, name, 0);
        r = -ENAMETOOLONG;
    }
    close(dfd);
    return r;
}

/* Rename @tmp (from bgp_file_temp, so in @path's directory) over @path and
 * make the rename durable.  The directory is opened and checked again and
 * the temporary file must still be ours: a regular file of this user with
 * one link.  On failure @tmp is removed. */
int bgp_file_commit(const char *tmp, const char *path)
{
    char dir[PATH_MAX], tdir[PATH_MAX];
    const char *name = base_of(tmp), *base = base_of(path);
    struct stat st;
    int dfd, r;

    if (!*base || !*name || dir_of(tmp, tdir, sizeof(tdir)) < 0) {
        unlink(tmp);
        return -EINVAL;
    }
    if ((dfd = dir_open(path, dir, sizeof(dir), NULL)) < 0) {
        unlink(tmp);
        return dfd;
    }
    if (strcmp(dir, tdir) != 0) {
        r = -EXDEV;
        unlinkat(dfd, name, 0);
    } else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        r = -errno;
    } else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
        r = -EPERM;
        unlinkat(dfd, name, 0);
    } else {
        r = commit_at(dfd, name, base);
    }
    close(dfd);
    return r;
}

/* Temporary file, write, rename and flush, all through one handle on the
 * checked directory. */
int bgp_file_replace(const char *path, const char *text)
{
    char dir[PATH_MAX], name[NAME_MAX + 1];
    const char *base = base_of(path);
    gid_t gid = 0;
    int dfd, r;

    if (!*base)
        return -EINVAL;
    if ((dfd = dir_open(path, dir, sizeof(dir), &gid)) < 0)
        return dfd;
    if ((r = temp_at(dfd, gid, base, text, name, sizeof(name))) == 0)
        r = commit_at(dfd, name, base);
    close(dfd);
    return r;
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
