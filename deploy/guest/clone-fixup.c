// bulkhead-clone-fixup: the two things the guest agent (Node: no ioctl(2), no clock_settime(2)) can't
// do itself after its VM was restored from a snapshot, where every clone resumes with the template's
// kernel CRNG state and the template's clock (as Kata's agent does in ReseedRandomDev/SetGuestDateTime):
//   reseed        stdin (<= 512 host random bytes) -> RNDADDENTROPY (credited), then RNDRESEEDCRNG
//   settime NS    CLOCK_REALTIME = NS nanoseconds since the epoch
//   reseed settime NS   both, in one run: each run is a fork of the agent's Node process, 0.1-0.3 s
//                       under TCG, and a restored VM waits for both before it takes its pod
// Static, so it needs nothing from the guest root but the kernel.
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENTROPY 512

static int reseed(void) {
  static union {
    struct rand_pool_info info;
    unsigned char raw[sizeof(struct rand_pool_info) + MAX_ENTROPY];
  } e;
  unsigned char *buf = e.raw + sizeof(struct rand_pool_info);
  size_t n = 0;
  while (n < MAX_ENTROPY) {
    ssize_t r = read(0, buf + n, MAX_ENTROPY - n);
    if (r < 0) { perror("read"); return 1; }
    if (r == 0) break;
    n += (size_t)r;
  }
  if (n < 32) { fprintf(stderr, "need at least 32 bytes of entropy, got %zu\n", n); return 1; }
  e.info.entropy_count = (int)(n * 8);
  e.info.buf_size = (int)n;
  int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
  if (fd < 0) { perror("/dev/urandom"); return 1; }
  if (ioctl(fd, RNDADDENTROPY, &e.info) < 0) { perror("RNDADDENTROPY"); return 1; }
  if (ioctl(fd, RNDRESEEDCRNG) < 0) { perror("RNDRESEEDCRNG"); return 1; }
  close(fd);
  return 0;
}

static int settime(const char *arg) {
  char *end;
  long long ns = strtoll(arg, &end, 10);
  if (*arg == '\0' || *end != '\0' || ns <= 0) { fprintf(stderr, "bad time %s\n", arg); return 1; }
  struct timespec ts = { .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };
  if (clock_settime(CLOCK_REALTIME, &ts) < 0) { perror("clock_settime"); return 1; }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "reseed") == 0) return reseed();
  if (argc == 3 && strcmp(argv[1], "settime") == 0) return settime(argv[2]);
  if (argc == 4 && strcmp(argv[1], "reseed") == 0 && strcmp(argv[2], "settime") == 0) return reseed() || settime(argv[3]);
  fprintf(stderr, "usage: %s reseed < bytes | settime UNIX_NS | reseed settime UNIX_NS < bytes\n", argv[0]);
  return 2;
}
