package io.github.payscore.sinks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.Serializable;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.spark.api.java.function.ForeachPartitionFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;

/**
 * Appends a micro-batch's rows to several tables in one pass (sinks/mysql_sink.py): a column of
 * the frame names each row's table (NULL: written nowhere), and each table takes its own
 * columns. Every partition writes its rows in one transaction over one connection, with an
 * INSERT per table, executed in batches (MariaDB's bulk statements, MySQL's rewritten batches:
 * the URL's options), in strict SQL mode (nothing is truncated or coerced silently).
 *
 * <p>A batch of inserts that fails on a row's data (a data or constraint error: SQLSTATE 22, 23,
 * a trigger's 45000) is inserted again row by row: a row whose key is already stored is skipped
 * (what INSERT IGNORE did, without its silent truncations), a row the database refuses is
 * quarantined: written to the quarantine table (rejected messages) with the error as its reason,
 * and counted per table. The rest of the partition commits. Any other error (connection, lock
 * wait, deadlock) fails the task as before.
 *
 * <p>Spark's JDBC writer writes one frame to one table: the three tables a batch feeds
 * (scored payments, fraud labels, rejected messages) would take three passes, each of which
 * re-runs the stateful operators or reads a cached copy of the batch (measured: the cache
 * alone was a tenth of the job's CPU).
 */
public final class RoutedJdbcAppend implements ForeachPartitionFunction<Row> {
  private static final long serialVersionUID = 1L;

  private final String url;
  private final String driver;
  private final Properties connection;
  private final int batchSize;
  private final int routeIndex;
  private final Map<String, Target> targets;
  private final Quarantine quarantine;

  private RoutedJdbcAppend(StructType schema, String routeColumn, Map<String, String[]> columnsByTable, String url,
                           String driver, Properties connection, int batchSize, Quarantine quarantine) {
    this.url = url;
    this.driver = driver;
    this.connection = connection;
    this.batchSize = batchSize;
    this.routeIndex = schema.fieldIndex(routeColumn);
    this.targets = new LinkedHashMap<>();
    for (Map.Entry<String, String[]> entry : columnsByTable.entrySet()) {
      targets.put(entry.getKey(), new Target(entry.getKey(), entry.getValue(), schema));
    }
    this.quarantine = quarantine;
  }

  /**
   * Append `rows` to the tables `tablesJson` names ({table: [columns]}), routed by `routeColumn`.
   * The user and password come in `user` and `password`, never in the URL. A row the database
   * refuses goes to `quarantineTable` (one of the tables, or null: it fails the batch) with
   * `quarantineReason`; returns how many rows of each table were quarantined.
   */
  public static Map<String, Long> append(Dataset<Row> rows, String routeColumn, String tablesJson, String url,
                                         String driver, String user, String password, int batchSize,
                                         String quarantineTable, String quarantineReason) {
    Properties connection = new Properties();
    connection.setProperty("user", user);
    connection.setProperty("password", password);
    Map<String, String[]> tables = tables(tablesJson);
    Quarantine quarantine = null;
    if (quarantineTable != null) {
      if (!tables.containsKey(quarantineTable)) {
        throw new IllegalArgumentException("the quarantine table " + quarantineTable + " is not a target");
      }
      Map<String, LongAccumulator> counts = new LinkedHashMap<>();
      for (String table : tables.keySet()) {
        counts.put(table, rows.sparkSession().sparkContext().longAccumulator("quarantined " + table));
      }
      quarantine = new Quarantine(quarantineTable, quarantineReason, counts);
    }
    rows.foreachPartition(new RoutedJdbcAppend(rows.schema(), routeColumn, tables, url, driver, connection,
        batchSize, quarantine));
    Map<String, Long> quarantined = new LinkedHashMap<>();
    for (String table : tables.keySet()) {
      quarantined.put(table, quarantine == null ? 0L : quarantine.counts.get(table).value());
    }
    return quarantined;
  }

  @Override
  public void call(Iterator<Row> rows) throws SQLException, ClassNotFoundException {
    Class.forName(driver);
    try (Connection db = DriverManager.getConnection(url, connection)) {
      db.setAutoCommit(false);
      db.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
      Map<String, PendingInserts> pending = new LinkedHashMap<>();
      try {
        while (rows.hasNext()) {
          Row row = rows.next();
          if (row.isNullAt(routeIndex)) {
            continue;
          }
          String table = row.getString(routeIndex);
          PendingInserts inserts = pending.get(table);
          if (inserts == null) {
            inserts = new PendingInserts(target(table), db.prepareStatement(target(table).insert()),
                quarantineStatement(db));
            pending.put(table, inserts);
          }
          inserts.add(row, batchSize);
        }
        for (PendingInserts inserts : pending.values()) {
          inserts.flush();
        }
        db.commit();
      } catch (SQLException | RuntimeException error) {
        db.rollback();
        throw error;
      } finally {
        for (PendingInserts inserts : pending.values()) {
          inserts.statement.close();
          if (inserts.quarantine != null) {
            inserts.quarantine.statement.close();
          }
        }
      }
    }
  }

  private Target target(String table) {
    Target target = targets.get(table);
    if (target == null) {
      throw new IllegalArgumentException("a row names table " + table + ", which is not a target");
    }
    return target;
  }

  private QuarantineStatement quarantineStatement(Connection db) throws SQLException {
    if (quarantine == null) {
      return null;
    }
    Target target = target(quarantine.table);
    return new QuarantineStatement(quarantine, target, db.prepareStatement(target.insert()));
  }

  /** Whether an error is about one row's data (SQLSTATE class 22 or 23, a trigger's 45000). */
  static boolean isRowError(SQLException error) {
    SQLException cause = rootSqlError(error);
    String state = cause.getSQLState() == null ? "" : cause.getSQLState();
    int code = cause.getErrorCode();
    if (code == 1205 || code == 1213 || state.startsWith("40")) {
      return false;  // lock wait timeout, deadlock: the transaction's, not the row's
    }
    return state.startsWith("22") || state.startsWith("23") || state.equals("45000") || ROW_ERROR_CODES.contains(code);
  }

  /** Whether an error is a key already stored (what INSERT IGNORE skipped). */
  static boolean isDuplicateKey(SQLException error) {
    int code = rootSqlError(error).getErrorCode();
    return code == 1062 || code == 1586;
  }

  private static SQLException rootSqlError(SQLException error) {
    SQLException found = error;
    Throwable cause = error.getCause();
    while (cause != null && cause != found) {
      if (cause instanceof SQLException && ((SQLException) cause).getSQLState() != null) {
        found = (SQLException) cause;
      }
      cause = cause.getCause();
    }
    if (found.getSQLState() == null && error.getNextException() != null) {
      return rootSqlError(error.getNextException());
    }
    return found;
  }

  // Server errors about a value that a server may report as HY000: null in a NOT NULL column,
  // out of range, truncated, incorrect value or string, too long, a CHECK constraint.
  private static final Set<Integer> ROW_ERROR_CODES = Set.of(1048, 1062, 1264, 1265, 1292, 1366, 1406, 1586, 3819, 4025);

  private static Map<String, String[]> tables(String json) {
    try {
      Map<String, String[]> tables = new LinkedHashMap<>();
      JsonNode root = new ObjectMapper().readTree(json);
      for (Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> table = it.next();
        List<String> columns = new ArrayList<>();
        table.getValue().forEach(column -> columns.add(column.asText()));
        tables.put(table.getKey(), columns.toArray(new String[0]));
      }
      return tables;
    } catch (IOException error) {
      throw new IllegalArgumentException("the tables are not valid JSON: " + error.getMessage(), error);
    }
  }

  /** One table: its columns, where they are in the row, and their SQL types for NULLs. */
  private static final class Target implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String table;
    private final String[] columns;
    private final int[] indexes;
    private final int[] nullTypes;

    Target(String table, String[] columns, StructType schema) {
      if (!table.matches("[a-z][a-z0-9_]{0,63}")) {
        throw new IllegalArgumentException("table name " + table + " is not a plain lower-case identifier");
      }
      this.table = table;
      this.columns = columns;
      this.indexes = new int[columns.length];
      this.nullTypes = new int[columns.length];
      for (int i = 0; i < columns.length; i++) {
        if (!columns[i].matches("[a-z][a-z0-9_]{0,63}")) {
          throw new IllegalArgumentException("column name " + columns[i] + " is not a plain lower-case identifier");
        }
        indexes[i] = schema.fieldIndex(columns[i]);
        nullTypes[i] = sqlType(schema.fields()[indexes[i]].dataType());
      }
    }

    String insert() {
      String names = String.join(", ", columns);
      String marks = String.join(", ", java.util.Collections.nCopies(columns.length, "?"));
      return "INSERT INTO " + table + " (" + names + ") VALUES (" + marks + ")";
    }

    void bind(PreparedStatement statement, Row row) throws SQLException {
      bind(statement, row, Map.of());
    }

    /** Bind a row's values, with `replaced` (column name -> value) instead of the row's own. */
    void bind(PreparedStatement statement, Row row, Map<String, Object> replaced) throws SQLException {
      for (int i = 0; i < indexes.length; i++) {
        Object value = replaced.containsKey(columns[i]) ? replaced.get(columns[i]) : row.get(indexes[i]);
        if (value == null) {
          statement.setNull(i + 1, nullTypes[i]);
        } else if (value instanceof Instant) {
          statement.setTimestamp(i + 1, Timestamp.from((Instant) value));
        } else if (value instanceof BigDecimal) {
          statement.setBigDecimal(i + 1, (BigDecimal) value);
        } else {
          statement.setObject(i + 1, value);
        }
      }
    }

    private static int sqlType(DataType type) {
      if (type.equals(DataTypes.StringType)) {
        return Types.VARCHAR;
      } else if (type.equals(DataTypes.IntegerType)) {
        return Types.INTEGER;
      } else if (type.equals(DataTypes.LongType)) {
        return Types.BIGINT;
      } else if (type.equals(DataTypes.DoubleType)) {
        return Types.DOUBLE;
      } else if (type.equals(DataTypes.BooleanType)) {
        return Types.BOOLEAN;
      } else if (type.equals(DataTypes.TimestampType)) {
        return Types.TIMESTAMP;
      } else if (type.equals(DataTypes.BinaryType)) {
        return Types.VARBINARY;
      } else if (type instanceof DecimalType) {
        return Types.DECIMAL;
      }
      throw new IllegalArgumentException("no SQL type for column type " + type.simpleString());
    }
  }

  /** Where refused rows go: a table, the reason code they get there, and counts per source table. */
  private static final class Quarantine implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String table;
    private final String reason;
    private final Map<String, LongAccumulator> counts;

    Quarantine(String table, String reason, Map<String, LongAccumulator> counts) {
      this.table = table;
      this.reason = reason;
      this.counts = counts;
    }
  }

  /** The prepared INSERT of the quarantine table, binding a refused row with its reason. */
  private static final class QuarantineStatement {
    private static final int MESSAGE_CHARS = 500;
    private final Quarantine quarantine;
    private final Target target;
    private final PreparedStatement statement;

    QuarantineStatement(Quarantine quarantine, Target target, PreparedStatement statement) {
      this.quarantine = quarantine;
      this.target = target;
      this.statement = statement;
    }

    void insert(Row row, String sourceTable, SQLException error) throws SQLException {
      String message = "could not be stored in " + sourceTable + ": " + rootSqlError(error).getMessage();
      if (message.length() > MESSAGE_CHARS) {
        message = message.substring(0, MESSAGE_CHARS);
      }
      target.bind(statement, row, Map.of("reason_code", quarantine.reason, "reason_message", message));
      statement.executeUpdate();
      quarantine.counts.get(sourceTable).add(1L);
    }
  }

  /** A table's prepared INSERT and the rows added to it since the last execution. */
  private static final class PendingInserts {
    private final Target target;
    private final PreparedStatement statement;
    private final QuarantineStatement quarantine;
    private final List<Row> rows = new ArrayList<>();

    PendingInserts(Target target, PreparedStatement statement, QuarantineStatement quarantine) {
      this.target = target;
      this.statement = statement;
      this.quarantine = quarantine;
    }

    void add(Row row, int batchSize) throws SQLException {
      target.bind(statement, row);
      statement.addBatch();
      rows.add(row);
      if (rows.size() >= batchSize) {
        flush();
      }
    }

    void flush() throws SQLException {
      if (rows.isEmpty()) {
        return;
      }
      try {
        statement.executeBatch();
      } catch (SQLException error) {
        if (!isRowError(error)) {
          throw error;
        }
        statement.clearBatch();
        insertOneByOne();
      }
      rows.clear();
    }

    /** The rows of a batch that failed on a row's data, one at a time (those of the batch that
     * were stored before the failure are found as duplicates of themselves and skipped). */
    private void insertOneByOne() throws SQLException {
      for (Row row : rows) {
        target.bind(statement, row);
        try {
          statement.executeUpdate();
        } catch (SQLException error) {
          if (isDuplicateKey(error)) {
            continue;
          }
          if (quarantine == null || !isRowError(error)) {
            throw error;
          }
          quarantine.insert(row, target.table, error);
        }
      }
    }
  }
}
