/* libFuzzer: the command tokenizer and the MAIL/RCPT parsers. */
#include <stddef.h>
#include <stdint.h>

#include "smtp/cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_mail_params p;
	struct smtp_cmd cmd;
	struct addr a;
	enum reply_id err;

	if (size > SMTP_LINE_MAX)
		return 0;
	smtp_cmd_parse((const char *)data, size, &cmd);
	if (cmd.id == CMD_MAIL)
		(void)smtp_parse_mail(cmd.args, cmd.argslen, &a, &p, &err);
	else if (cmd.id == CMD_RCPT)
		(void)smtp_parse_rcpt(cmd.args, cmd.argslen, size & 1, &a, &err);
	else if (cmd.id == CMD_EHLO || cmd.id == CMD_HELO)
		(void)smtp_valid_helo(cmd.args, cmd.argslen);
	return 0;
}
