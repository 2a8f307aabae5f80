package io.github.payscore.jdbc;

import org.apache.spark.sql.jdbc.MySQLDialect;
import org.apache.spark.sql.types.StructField;

/**
 * Spark's MySQL dialect whose appends are INSERT IGNORE: a row whose key is already stored
 * (a payment sent again, or a micro-batch written again after a crash) is skipped instead
 * of failing the whole write. The sink then counts what landed to tell resends apart.
 *
 * Registered by the job (register_insert_ignore_dialect in sinks/mysql_sink.py) for jdbc:mysql
 * URLs; MariaDB Connector/J takes that scheme with permitMysqlScheme. The statement is built
 * on the driver, so only the driver's JVM needs the registration.
 */
public class InsertIgnoreMySqlDialect extends MySQLDialect {
  private static final String INSERT = "INSERT ";

  @Override
  public String insertIntoTable(String table, StructField[] fields) {
    String statement = super.insertIntoTable(table, fields);
    if (!statement.startsWith(INSERT)) {
      throw new IllegalStateException("unexpected insert statement from Spark: " + statement);
    }
    return "INSERT IGNORE " + statement.substring(INSERT.length());
  }
}
