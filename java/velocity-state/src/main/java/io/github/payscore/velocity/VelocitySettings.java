package io.github.payscore.velocity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.Serializable;

/**
 * The feature windows of conf/payments.yaml (features:) and the names of the columns they
 * make, as features/definitions.py gives them: one definition, passed in as JSON by
 * features/velocity.py. Times are microseconds.
 */
public final class VelocitySettings implements Serializable {
  private static final long serialVersionUID = 1L;

  final String[] customerCountNames;
  final String[] customerMeanNames;
  final long[] customerWindowsUs;
  final String[] burstCountNames;
  final String[] burstSumNames;
  final long[] burstWindowsUs;
  final String[] terminalCountNames;
  final String[] terminalRiskNames;
  final long[] terminalWindowsUs;
  final long labelDelayUs;
  /** Events per sealed block of a key's history (EventLog); small in tests, to exercise sealing. */
  final int blockEvents;

  private VelocitySettings(JsonNode json) {
    customerCountNames = strings(json, "customer_count_names");
    customerMeanNames = strings(json, "customer_mean_names");
    customerWindowsUs = longs(json, "customer_windows_us");
    burstCountNames = strings(json, "burst_count_names");
    burstSumNames = strings(json, "burst_sum_names");
    burstWindowsUs = longs(json, "burst_windows_us");
    terminalCountNames = strings(json, "terminal_count_names");
    terminalRiskNames = strings(json, "terminal_risk_names");
    terminalWindowsUs = longs(json, "terminal_windows_us");
    labelDelayUs = json.get("label_delay_us").asLong();
    blockEvents = json.get("block_events").asInt();
    check(customerCountNames.length == customerWindowsUs.length
        && customerMeanNames.length == customerWindowsUs.length, "customer windows and names differ in number");
    check(burstCountNames.length == burstWindowsUs.length
        && burstSumNames.length == burstWindowsUs.length, "burst windows and names differ in number");
    check(terminalCountNames.length == terminalWindowsUs.length
        && terminalRiskNames.length == terminalWindowsUs.length, "terminal windows and names differ in number");
    check(blockEvents >= 2, "block_events must be at least 2");
  }

  /** Settings from the JSON that features/velocity.py writes. */
  public static VelocitySettings fromJson(String text) {
    try {
      return new VelocitySettings(new ObjectMapper().readTree(text));
    } catch (IOException error) {
      throw new IllegalArgumentException("velocity settings are not valid JSON: " + error.getMessage(), error);
    }
  }

  /** How far behind the watermark a customer's events still count for an on-time payment. */
  long customerSpanUs() {
    return Math.max(max(customerWindowsUs), max(burstWindowsUs));
  }

  /**
   * How long a customer's payments are kept: for its windows, and for as long as a fraud label of
   * one of them can still move terminal risk (the label is checked against them).
   */
  long customerRetentionUs() {
    return Math.max(customerSpanUs(), terminalSpanUs());
  }

  /** How far behind the watermark a terminal's payments and labels still count. */
  long terminalSpanUs() {
    return labelDelayUs + max(terminalWindowsUs);
  }

  private static long max(long[] values) {
    long most = 0;
    for (long value : values) {
      most = Math.max(most, value);
    }
    return most;
  }

  private static void check(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException("velocity settings: " + message);
    }
  }

  private static String[] strings(JsonNode json, String field) {
    JsonNode array = json.get(field);
    String[] out = new String[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asText();
    }
    return out;
  }

  private static long[] longs(JsonNode json, String field) {
    JsonNode array = json.get(field);
    long[] out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asLong();
    }
    return out;
  }
}
