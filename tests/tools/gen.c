/*
 * liandong-gen -- realistic generated records for benchmarks and tests.
 *
 *   liandong-gen events N [--seed S] [--deputies D]
 *
 * prints N events as JSON Lines in the shape `import` takes: a township's
 * year of deputy activity and supervision work, with Chinese text, in the
 * mix a township office records (contacts and attendance most often,
 * suggestions followed through their chain, supervision now and then).
 * Encoded, an event averages about 200 bytes. Deterministic for a seed.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static unsigned pick(unsigned n) { return (unsigned)(rng() % n); }

#define PICK(a) (a)[pick(sizeof(a) / sizeof *(a))]

static const char *const topics[] = {
    "春耕备耕农资供应情况", "农村饮水安全工程建设", "中小学校舍维修与学位供给",
    "乡村道路硬化及养护", "农村医疗卫生服务体系建设", "秸秆综合利用与禁烧",
    "城乡居民基本养老保险落实", "农村危房改造进展", "农产品质量安全监管",
    "冬季供暖保障工作", "村级集体经济发展", "食品安全专项整治",
};
static const char *const names[] = {
    "张桂兰", "刘振国", "王秀英", "李建华", "赵德明", "孙丽", "周志强", "吴凤芝",
    "郑海涛", "陈玉梅", "杨树林", "黄春燕",
};
static const char *const handlers[] = {
    "镇政府教育办", "镇农业综合服务中心", "县交通运输局", "县卫生健康局", "镇民政办",
    "县水务局", "镇财政所",
};
static const char *const channels[] = {
    "reception_day", "visit", "home_station", "online", "phone",
};
static const char *const categories[] = {
    "worker", "farmer", "farmer", "farmer", "intellectual", "cadre", "business", "other",
};
static const char *const ratings[] = {"satisfied", "satisfied", "basically_satisfied",
                                      "dissatisfied"};

static void date(char out[32], unsigned day)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int m = 0;
    day %= 365;
    while (day >= (unsigned)mdays[m])
        day -= (unsigned)mdays[m++];
    snprintf(out, 32, "2026-%02d-%02u", m + 1, day + 1);
}

static void one(unsigned long i, unsigned deputies)
{
    char d[32];
    date(d, (unsigned)(i * 365 / 1000003 + pick(3)));
    unsigned dep = pick(deputies) + 1;
    unsigned k = pick(100);
    if (i <= deputies) {
        printf("{\"kind\":\"deputy.registered\",\"date\":\"2021-12-01\",\"body\":{\"deputy\":"
               "\"d%04lu\",\"name\":\"%s\",\"level\":\"township\",\"category\":\"%s\","
               "\"term\":\"2021-2026\",\"constituency\":\"第%u选区\"}}\n",
               i, PICK(names), PICK(categories), (unsigned)(i % 12 + 1));
    } else if (k < 35) {
        printf("{\"kind\":\"deputy.contact\",\"date\":\"%s\",\"author\":\"%s\",\"body\":{"
               "\"deputy\":\"d%04u\",\"channel\":\"%s\",\"constituents\":%u,\"topic\":\"%s\"}}\n",
               d, PICK(names), dep, PICK(channels), pick(40) + 1, PICK(topics));
    } else if (k < 50) {
        printf("{\"kind\":\"deputy.attendance\",\"date\":\"%s\",\"body\":{\"deputy\":\"d%04u\","
               "\"meeting\":\"镇人民代表大会第%u次会议\",\"status\":\"%s\"}}\n",
               d, dep, pick(6) + 1, pick(10) ? "present" : "excused");
    } else if (k < 60) {
        printf("{\"kind\":\"deputy.training\",\"date\":\"%s\",\"body\":{\"deputy\":\"d%04u\","
               "\"topic\":\"代表履职能力培训：%s\",\"hours\":%u}}\n",
               d, dep, PICK(topics), pick(16) + 4);
    } else if (k < 65) {
        printf("{\"kind\":\"deputy.duty_report\",\"date\":\"%s\",\"body\":{\"deputy\":\"d%04u\","
               "\"audience\":%u,\"summary\":\"向选民报告履职情况，围绕%s听取意见\"}}\n",
               d, dep, pick(80) + 20, PICK(topics));
    } else if (k < 70) {
        printf("{\"kind\":\"deputy.evaluation\",\"date\":\"%s\",\"body\":{\"deputy\":\"d%04u\","
               "\"rating\":\"%s\",\"voters\":%u,\"score\":%u}}\n",
               d, dep, PICK(ratings), pick(60) + 20, pick(40) + 60);
    } else if (k < 78) {
        printf("{\"kind\":\"suggestion.submitted\",\"date\":\"%s\",\"body\":{\"suggestion\":"
               "\"s%06lu\",\"deputy\":\"d%04u\",\"title\":\"关于加强%s的建议\"}}\n",
               d, i, dep, PICK(topics));
    } else if (k < 84) {
        printf("{\"kind\":\"suggestion.assigned\",\"date\":\"%s\",\"body\":{\"suggestion\":"
               "\"s%06lu\",\"handler\":\"%s\"}}\n", d, i - pick(50) - 1, PICK(handlers));
    } else if (k < 89) {
        printf("{\"kind\":\"suggestion.answered\",\"date\":\"%s\",\"body\":{\"suggestion\":"
               "\"s%06lu\",\"handler\":\"%s\",\"answer\":\"已列入年度计划，分步实施\"}}\n",
               d, i - pick(200) - 1, PICK(handlers));
    } else if (k < 92) {
        printf("{\"kind\":\"suggestion.rated\",\"date\":\"%s\",\"body\":{\"suggestion\":"
               "\"s%06lu\",\"rating\":\"%s\"}}\n", d, i - pick(300) - 1, PICK(ratings));
    } else if (k < 96) {
        printf("{\"kind\":\"supervision.visit\",\"date\":\"%s\",\"body\":{\"topic\":\"%s\","
               "\"participants\":%u,\"deputies\":[\"d%04u\",\"d%04u\"]}}\n",
               d, PICK(topics), pick(12) + 3, dep, pick(deputies) + 1);
    } else {
        printf("{\"kind\":\"supervision.work_review\",\"date\":\"%s\",\"body\":{\"target\":"
               "\"%s\",\"score\":%u,\"topic\":\"%s\"}}\n",
               d, PICK(handlers), pick(40) + 60, PICK(topics));
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'}, {"deputies", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    unsigned deputies = 60;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's')
            rng_state ^= strtoull(optarg, NULL, 10) * 0x9E3779B97F4A7C15ull;
        else if (c == 'd')
            deputies = (unsigned)strtoul(optarg, NULL, 10);
        else {
            fprintf(stderr, "usage: liandong-gen events N [--seed S] [--deputies D]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind + 2 != argc || strcmp(argv[optind], "events") != 0 || !deputies) {
        fprintf(stderr, "usage: liandong-gen events N [--seed S] [--deputies D]\n");
        return 2;
    }
    unsigned long n = strtoul(argv[optind + 1], NULL, 10);
    for (unsigned long i = 1; i <= n; i++)
        one(i, deputies);
    return fflush(stdout) ? 1 : 0;
}
