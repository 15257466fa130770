import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs the pgjdbc scenarios of test_pgjdbc.py against one server and prints
 * every observation as one line, "key TAB value". A scenario that throws
 * prints "error SQLSTATE message" under its key and the next one runs, so one
 * failure hides nothing else.
 *
 * <p>Usage: java -Duser.timezone=UTC -cp postgresql.jar:. JdbcScenarios URL LONG_QUERY SCRATCH_TABLE
 */
public final class JdbcScenarios {
    private static final String TEXT_SPELLINGS_QUERY =
        "SELECT 1.5::float8, true, '2024-01-01 00:00:00+00'::timestamptz, interval '1 day 2 hours', NULL";
    private static final long CANCEL_AFTER_MILLIS = 1000;

    @FunctionalInterface
    private interface Scenario {
        void run(Connection connection) throws Exception;
    }

    private JdbcScenarios() {
    }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String longQuery = args[1];
        String scratchTable = args[2];
        try (Connection connection = DriverManager.getConnection(url)) {
            attempt("connect", connection, JdbcScenarios::connect);
            attempt("rows", connection, JdbcScenarios::rows);
            attempt("text", connection, JdbcScenarios::textSpellings);
            attempt("params", connection, JdbcScenarios::parameters);
            attempt("update", connection, c -> update(c, scratchTable));
            attempt("batch", connection, c -> batch(c, scratchTable));
            attempt("error", connection, JdbcScenarios::errors);
            attempt("transaction", connection, JdbcScenarios::failedTransaction);
            attempt("cancel", connection, c -> cancel(c, longQuery));
            attempt("timeout", connection, c -> timeout(c, longQuery));
            attempt("catalogs", connection, c -> print("catalogs", column(c.getMetaData().getCatalogs(), "TABLE_CAT")));
            attempt("schemas", connection, c -> print("schemas", column(c.getMetaData().getSchemas(), "TABLE_SCHEM")));
            attempt("tables", connection, JdbcScenarios::tables);
            attempt("columns", connection, JdbcScenarios::columns);
            attempt("primarykeys", connection, JdbcScenarios::primaryKeys);
            attempt("typeinfo", connection, JdbcScenarios::typeInfo);
            attempt("resultmeta", connection, JdbcScenarios::resultSetMetaData);
        }
    }

    private static void attempt(String key, Connection connection, Scenario scenario) {
        try {
            scenario.run(connection);
        } catch (SQLException e) {
            print(key, "error " + e.getSQLState() + " " + e.getMessage().lines().findFirst().orElse(""));
            try {
                if (!connection.getAutoCommit()) {
                    connection.rollback();
                    connection.setAutoCommit(true);
                }
            } catch (SQLException ignored) {
                // The scenario's own error is the one to report.
            }
        } catch (Exception e) {
            print(key, "error " + e);
        }
    }

    private static void print(String key, Object value) {
        String text = String.valueOf(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t");
        System.out.println(key + "\t" + text);
    }

    /** Returns "Class value" for a getObject result, with byte[] in hex and arrays expanded. */
    private static String describe(Object value) throws SQLException {
        if (value == null) {
            return "null";
        }
        if (value instanceof byte[] bytes) {
            return "byte[] " + HexFormat.of().formatHex(bytes);
        }
        if (value instanceof Array array) {
            return "Array " + Arrays.toString((Object[]) array.getArray());
        }
        return value.getClass().getSimpleName() + " " + value;
    }

    private static String column(ResultSet results, String name) throws SQLException {
        List<String> values = new ArrayList<>();
        try (results) {
            while (results.next()) {
                values.add(results.getString(name));
            }
        }
        return String.join(";", values);
    }

    private static void connect(Connection connection) throws SQLException {
        DatabaseMetaData metadata = connection.getMetaData();
        print("connect.product", metadata.getDatabaseProductName());
        print("connect.major", metadata.getDatabaseMajorVersion());
        print("connect.valid", connection.isValid(2));
    }

    private static void rows(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet results = statement.executeQuery("SELECT * FROM m ORDER BY time")) {
            ResultSetMetaData metadata = results.getMetaData();
            for (int column = 1; column <= metadata.getColumnCount(); column++) {
                print("rows.column." + column, metadata.getColumnName(column) + " " + metadata.getColumnTypeName(column)
                    + " " + metadata.getColumnType(column));
            }
            for (int row = 0; results.next(); row++) {
                for (int column = 1; column <= metadata.getColumnCount(); column++) {
                    print("rows." + row + "." + metadata.getColumnName(column), describe(results.getObject(column)));
                }
            }
        }
    }

    private static void textSpellings(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet results = statement.executeQuery(TEXT_SPELLINGS_QUERY)) {
            results.next();
            for (int column = 1; column <= results.getMetaData().getColumnCount(); column++) {
                print("text." + column, results.getString(column));
            }
        }
    }

    /** Runs one statement six times, past pgjdbc's prepareThreshold of 5, so that it becomes a named statement. */
    private static void parameters(Connection connection) throws SQLException {
        String query = "SELECT host, samples FROM m WHERE samples > ? AND host <> ? ORDER BY time";
        try (PreparedStatement statement = connection.prepareStatement(query)) {
            for (int run = 0; run < 6; run++) {
                statement.setLong(1, 0);
                statement.setString(2, "zeta");
                List<String> rows = new ArrayList<>();
                try (ResultSet results = statement.executeQuery()) {
                    while (results.next()) {
                        rows.add(results.getString(1) + "," + results.getLong(2));
                    }
                }
                print("params.run." + run, String.join(";", rows));
            }
        }
        try (PreparedStatement statement = connection.prepareStatement("SELECT ?::integer + 1, ?::text")) {
            statement.setInt(1, 41);
            statement.setString(2, "x");
            try (ResultSet results = statement.executeQuery()) {
                results.next();
                print("params.typed", results.getInt(1) + "," + results.getString(2));
            }
        }
        try (PreparedStatement statement = connection.prepareStatement("SELECT count(*) FROM m WHERE time >= ?")) {
            statement.setObject(1, OffsetDateTime.of(2024, 1, 1, 1, 0, 0, 0, ZoneOffset.UTC));
            try (ResultSet results = statement.executeQuery()) {
                results.next();
                print("params.timestamptz", results.getLong(1));
            }
        }
    }

    private static void update(Connection connection, String scratchTable) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            print("update.count", statement.executeUpdate("INSERT INTO " + scratchTable
                + " (time, v) VALUES ('2024-03-01 00:00:00+00', 1), ('2024-03-01 01:00:00+00', 2)"));
        }
    }

    private static void batch(Connection connection, String scratchTable) throws SQLException {
        // A JDBC batch: one prepared INSERT run once per row, the way loaders write.
        try (PreparedStatement statement = connection.prepareStatement(
                "INSERT INTO " + scratchTable + " (time, v) VALUES (?, ?)")) {
            for (int row = 0; row < 50; row++) {
                statement.setObject(1, OffsetDateTime.of(2024, 4, 1, 0, row, 0, 0, ZoneOffset.UTC));
                statement.setLong(2, row);
                statement.addBatch();
            }
            int total = 0;
            for (int count : statement.executeBatch()) {
                total += count;
            }
            print("batch.count", total);
        }
        try (Statement statement = connection.createStatement();
             ResultSet results = statement.executeQuery("SELECT count(*), sum(v) FROM " + scratchTable
                 + " WHERE time >= '2024-04-01 00:00:00+00'")) {
            results.next();
            print("batch.rows", results.getLong(1) + "," + results.getLong(2));
        }
    }

    private static void errors(Connection connection) throws SQLException {
        String[] queries = {"SELECT * FROM nosuch", "SELEC 1", "SELECT nosuch FROM m"};
        for (int index = 0; index < queries.length; index++) {
            try (Statement statement = connection.createStatement()) {
                statement.executeQuery(queries[index]);
                print("error." + index, "no error");
            } catch (SQLException e) {
                print("error." + index, e.getSQLState());
            }
            print("error." + index + ".after", count(connection));
        }
    }

    private static void failedTransaction(Connection connection) throws SQLException {
        connection.setAutoCommit(false);
        try (Statement statement = connection.createStatement()) {
            try {
                statement.executeQuery("SELECT * FROM nosuch");
            } catch (SQLException e) {
                print("transaction.first", e.getSQLState());
            }
            try {
                statement.executeQuery("SELECT 1");
            } catch (SQLException e) {
                print("transaction.next", e.getSQLState());
            }
            connection.rollback();
        } finally {
            connection.setAutoCommit(true);
        }
        print("transaction.after", count(connection));
    }

    private static void cancel(Connection connection, String longQuery) throws SQLException {
        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
        try (Statement statement = connection.createStatement()) {
            scheduler.schedule(() -> {
                try {
                    statement.cancel();
                } catch (SQLException e) {
                    print("cancel.call", "error " + e.getSQLState());
                }
            }, CANCEL_AFTER_MILLIS, TimeUnit.MILLISECONDS);
            print("cancel", longQueryOutcome(statement, longQuery));
        } finally {
            scheduler.shutdownNow();
        }
        print("cancel.after", count(connection));
    }

    private static void timeout(Connection connection, String longQuery) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.setQueryTimeout(1);
            print("timeout", longQueryOutcome(statement, longQuery));
        }
        print("timeout.after", count(connection));
    }

    /** Returns the SQLSTATE the long query failed with and whether it ended within ten seconds. */
    private static String longQueryOutcome(Statement statement, String longQuery) {
        long started = System.nanoTime();
        String outcome;
        try {
            statement.executeQuery(longQuery);
            outcome = "no error";
        } catch (SQLException e) {
            outcome = e.getSQLState();
        }
        boolean prompt = System.nanoTime() - started < TimeUnit.SECONDS.toNanos(10);
        return outcome + (prompt ? " within 10 s" : " after 10 s");
    }

    private static long count(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet results = statement.executeQuery("SELECT count(*) FROM m")) {
            results.next();
            return results.getLong(1);
        }
    }

    private static void tables(Connection connection) throws SQLException {
        List<String> tables = new ArrayList<>();
        try (ResultSet results = connection.getMetaData().getTables(null, null, "m", null)) {
            while (results.next()) {
                tables.add(results.getString("TABLE_SCHEM") + "." + results.getString("TABLE_NAME") + " "
                    + results.getString("TABLE_TYPE"));
            }
        }
        print("tables", String.join(";", tables));
    }

    private static void columns(Connection connection) throws SQLException {
        List<String> columns = new ArrayList<>();
        try (ResultSet results = connection.getMetaData().getColumns(null, null, "m", "%")) {
            while (results.next()) {
                columns.add(results.getString("COLUMN_NAME") + " " + results.getString("TYPE_NAME") + " "
                    + results.getInt("DATA_TYPE"));
            }
        }
        print("columns", String.join(";", columns));
    }

    private static void primaryKeys(Connection connection) throws SQLException {
        print("primarykeys", column(connection.getMetaData().getPrimaryKeys(null, null, "m"), "COLUMN_NAME"));
    }

    private static void typeInfo(Connection connection) throws SQLException {
        List<String> names = new ArrayList<>();
        try (ResultSet results = connection.getMetaData().getTypeInfo()) {
            while (results.next()) {
                names.add(results.getString("TYPE_NAME"));
            }
        }
        print("typeinfo.int8", names.contains("int8"));
        print("typeinfo.timestamptz", names.contains("timestamptz"));
    }

    private static void resultSetMetaData(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet results = statement.executeQuery("SELECT host FROM m LIMIT 1")) {
            ResultSetMetaData metadata = results.getMetaData();
            print("resultmeta.table", metadata.getTableName(1));
            print("resultmeta.nullable", metadata.isNullable(1));
        }
    }
}
