"""hwtest: the acceptance test of a Rexian box's voice board, run by the technician at install time.

Loopback cables join pairs of ports of the same board (an FXO trunk port to an FXS station port, or
E1 to E1); ``python -m hwtest --config /etc/rexian/rexian.toml --loop 0:4 --loop 1:5`` rings, answers,
sends DTMF and tones, records and hangs up across each cable through the product's own voiceboard
API, and writes a PASS/FAIL report in Chinese and English (see README.md).

Modules: ``plan`` (config and arguments), ``checks`` (the checks), ``audio`` (tones in a recording),
``report`` (the report), ``cli`` (the command).
"""
