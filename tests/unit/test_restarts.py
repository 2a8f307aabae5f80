"""The job restarts its query on outages only, with capped exponential backoff."""


from pipeline.restarts import RestartPolicy, is_outage


def test_outages_are_told_from_bugs():
    assert is_outage("java.sql.SQLNonTransientConnectionException: Socket fail to connect to host:127.0.0.1")
    assert is_outage("pymysql.err.OperationalError: (2003, \"Can't connect to MySQL server on '127.0.0.1'\")")
    assert is_outage("org.apache.kafka.common.errors.TimeoutException: Timeout of 60000ms expired")
    assert not is_outage("[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column with name `amount2` cannot be resolved")
    assert not is_outage("ZeroDivisionError: division by zero")


def test_backoff_doubles_up_to_the_cap_and_resets_after_a_commit():
    now = [0.0]
    policy = RestartPolicy(max_seconds=8, give_up_seconds=100, clock=lambda: now[0])
    outage = "Communications link failure"
    assert [policy.next_delay(outage) for _ in range(5)] == [1, 2, 4, 8, 8]
    policy.committed()
    assert policy.next_delay(outage) == 1


def test_gives_up_after_the_limit_and_never_restarts_on_a_bug():
    now = [0.0]
    policy = RestartPolicy(max_seconds=8, give_up_seconds=60, clock=lambda: now[0])
    assert policy.next_delay("Connection refused") == 1
    now[0] = 61
    assert policy.next_delay("Connection refused") is None
    assert RestartPolicy(8, 60).next_delay("KeyError: 'score'") is None


def test_the_logged_summary_is_the_line_naming_the_outage():
    from pipeline.restarts import outage_summary
    error = ("[STREAM_FAILED] Query terminated with exception\nTraceback (most recent call last):\n"
             "pymysql.err.OperationalError: (2003, \"Can't connect to MySQL server on '127.0.0.1'\")\n")
    assert outage_summary(error).startswith("pymysql.err.OperationalError: (2003")
