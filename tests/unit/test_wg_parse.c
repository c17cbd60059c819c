/* The CIDR parsers behind allowed_ips, DNS-free addresses and server
 * subnets: exact text only, no white space, signs, leading zeros or
 * trailing bytes (strtol would take several of these). */
#include <arpa/inet.h>
#include <string.h>
#include "device.h"
#include "subnet.h"
#include "tap.h"

int main(void)
{
    static const char *const good[] = {"10.0.0.0/8", "0.0.0.0/0", "::/0", "fd00::2/128", "10.0.0.2", "2001:db8::1",
                                       "192.0.2.1/32", "::ffff:192.0.2.1/128"};
    static const char *const bad[] = {"10.0.0.0/ 8", " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0 /8", "10.0.0.0/+8",
                                      "10.0.0.0/-8", "10.0.0.0/08", "10.0.0.0/8x", "10.0.0.0/33", "fd00::/129",
                                      "10.0.0.0/", "/8", "10.0.0.0/8/8", "10.0.0.0/0008", "10.0.0.0/\t8",
                                      "10.0.0.0/8\n", "fd00::2%eth0/128", "fd00::/64 ", "010.0.0.0/8", "1.2.3/24",
                                      "10.0.0.0/1000"};
    struct wg_allowedip a;
    struct wg_subnet sn;
    char buf[64];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        is_int(wg_allowedip_parse(good[i], &a), 0, good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(wg_allowedip_parse(bad[i], &a) < 0, "'%s' refused", bad[i]);
    wg_allowedip_parse("10.1.2.3/0", &a);
    is_str(wg_allowedip_format(&a, buf, sizeof(buf)), "10.1.2.3/0", "/0 read as 0");
    wg_allowedip_parse("fd00::2", &a);
    is_int(a.cidr, 128, "a bare IPv6 address is /128");

    is_int(wg_subnet_parse("10.0.0.1/24", &sn), 0, "subnet 10.0.0.1/24");
    ok(wg_subnet_parse("10.0.0.1/ 24", &sn) < 0, "subnet '10.0.0.1/ 24' refused");
    ok(wg_subnet_parse("10.0.0.1/24 ", &sn) < 0, "subnet '10.0.0.1/24 ' refused");
    ok(wg_subnet_parse("10.0.0.1", &sn) < 0, "subnet without a prefix refused");
    ok(wg_subnet_parse("fd10::1/064", &sn) < 0, "subnet 'fd10::1/064' refused");
    return done_testing();
}
