/* Campaign names (crawler/store/campaign.c): what a name may be, checked before
 * any query; a new name may not be all digits. */
#include "crawler/store/campaign.h"
#include "unit.h"

UNIT_TEST(test_campaign_name_problem)
{
	static const struct {
		const char *name;
		const char *problem; /* NULL: fine */
	} rows[] = {
		{ "alpha", NULL },
		{ "gamma with spaces", NULL },
		{ "bücher ✓ 𝄞", NULL }, /* 2-, 3- and 4-byte UTF-8 */
		{ "1", NULL },		/* as an ID|NAME argument */
		{ "", "the campaign name is empty" },
		{ "caf\xe9", "the campaign name is not valid UTF-8" },
		{ "x\xc0\xaf", "the campaign name is not valid UTF-8" },
		{ "x\xe0\x80\xaf", "the campaign name is not valid UTF-8" },
		{ "x\xed\xa0\x80", "the campaign name is not valid UTF-8" },
		{ "x\xf4\x90\x80\x80", "the campaign name is not valid UTF-8" },
		{ "x\xf5\x80\x80\x80", "the campaign name is not valid UTF-8" },
		{ "x\xe2\x9c", "the campaign name is not valid UTF-8" },
		{ "x\x80", "the campaign name is not valid UTF-8" },
		{ "a\tb", "the campaign name contains a control character" },
		{ "a\x7f", "the campaign name contains a control character" },
		{ "a\xc2\x85",
		  "the campaign name contains a control character" },
		{ "a\xc2\x9f",
		  "the campaign name contains a control character" },
		{ "a\xc2\xa0", NULL }, /* U+00A0 is not a control character */
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		CHECK_STR(campaign_name_problem(rows[i].name), rows[i].problem,
			  rows[i].name);

	char name[CAMPAIGN_NAME_MAX + 2];
	memset(name, 'n', sizeof name);
	name[CAMPAIGN_NAME_MAX] = '\0';
	CHECK_STR(campaign_name_problem(name), NULL, "128 bytes");
	name[CAMPAIGN_NAME_MAX] = 'n';
	name[CAMPAIGN_NAME_MAX + 1] = '\0';
	CHECK_STR(campaign_name_problem(name),
		  "the campaign name is longer than 128 bytes", "129 bytes");
}

UNIT_TEST(test_campaign_new_name_problem)
{
	const char *digits = "the campaign name is all digits: commands that "
			     "take ID|NAME would read it as a campaign id; "
			     "add a letter or another character";
	CHECK_STR(campaign_new_name_problem("1"), digits, "1");
	CHECK_STR(campaign_new_name_problem("007"), digits, "007");
	CHECK_STR(campaign_new_name_problem("123456789012345678901234"), digits,
		  "long digits");
	CHECK_STR(campaign_new_name_problem("1a"), NULL, "1a");
	CHECK_STR(campaign_new_name_problem("2026-12-06"), NULL, "date");
	CHECK_STR(campaign_new_name_problem(" 1"), NULL, "space");
	CHECK_STR(campaign_new_name_problem("caf\xe9"),
		  "the campaign name is not valid UTF-8", "bad UTF-8 first");
}
