// Runs the node-postgres scenarios of test_node_pg.py against one server and
// prints one JSON object: scenario name to observation. A scenario that
// throws records {error: SQLSTATE, message} and the next one runs.
//
// Usage: TZ=UTC node node_pg_scenarios.js PORT LONG_QUERY SCRATCH_TABLE
'use strict'

const { Client, Query } = require('pg')

const TEXT_SPELLINGS_QUERY =
  "SELECT 1.5::float8, true, '2024-01-01 00:00:00+00'::timestamptz, interval '1 day 2 hours', NULL"
const CANCEL_AFTER_MILLIS = 1000

const [port, longQuery, scratchTable] = process.argv.slice(2)
const config = { host: '127.0.0.1', port: Number(port), user: 'tester', database: 'telemetry' }

// Return a value as JSON can carry it: Buffers in hex, Dates in ISO 8601.
function plain (value) {
  if (Buffer.isBuffer(value)) return { bytea: value.toString('hex') }
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return value.map(plain)
  return value
}

function plainRows (result) {
  return result.rows.map((row) => row.map(plain))
}

async function count (client) {
  const result = await client.query('SELECT count(*) FROM m')
  return result.rows[0].count
}

async function sqlstateOf (promise) {
  try {
    await promise
    return 'no error'
  } catch (error) {
    return error.code
  }
}

async function cancelLongQuery (client) {
  const query = new Query(longQuery)
  const outcome = new Promise((resolve) => {
    query.on('error', (error) => resolve(error.code))
    query.on('end', () => resolve('no error'))
  })
  const started = Date.now()
  client.query(query)
  setTimeout(() => new Client(config).cancel(client, query), CANCEL_AFTER_MILLIS)
  const code = await outcome
  return { code, within10s: Date.now() - started < 10000, after: await count(client) }
}

const scenarios = {
  async rows (client) {
    const result = await client.query({ text: 'SELECT * FROM m ORDER BY time', rowMode: 'array' })
    return {
      fields: result.fields.map((field) => [field.name, field.dataTypeID]),
      rows: plainRows(result),
      command: result.command,
      rowCount: result.rowCount
    }
  },

  async text (client) {
    const unparsed = { getTypeParser: () => (value) => value }
    const result = await client.query({ text: TEXT_SPELLINGS_QUERY, rowMode: 'array', types: unparsed })
    return result.rows[0]
  },

  async params (client) {
    const typed = await client.query({ text: 'SELECT $1::int + 1, $2::text', values: [41, 'x'], rowMode: 'array' })
    const since = await client.query('SELECT count(*) FROM m WHERE time >= $1::timestamptz',
      [new Date('2024-01-01T01:00:00Z')])
    return { typed: typed.rows[0], since: since.rows[0].count }
  },

  async untypedParams (client) {
    const result = await client.query({
      text: 'SELECT host, samples FROM m WHERE samples > $1 AND host <> $2 ORDER BY time',
      values: [0, 'zeta'],
      rowMode: 'array'
    })
    return result.rows
  },

  async insert (client) {
    const result = await client.query(`INSERT INTO ${scratchTable} (time, v) VALUES ($1::timestamptz, 1), ($2::timestamptz, 2)`,
      ['2024-03-01T00:00:00Z', '2024-03-01T01:00:00Z'])
    return { command: result.command, rowCount: result.rowCount }
  },

  async errors (client) {
    const outcomes = []
    for (const query of ['SELECT * FROM nosuch', 'SELEC 1', 'SELECT nosuch FROM m']) {
      outcomes.push([await sqlstateOf(client.query(query)), await count(client)])
    }
    return outcomes
  },

  async transaction (client) {
    await client.query('BEGIN')
    const first = await sqlstateOf(client.query('SELECT * FROM nosuch'))
    const next = await sqlstateOf(client.query('SELECT 1'))
    const rollback = await client.query('ROLLBACK')
    return { first, next, rollback: rollback.command, after: await count(client) }
  },

  cancel: cancelLongQuery
}

async function main () {
  const client = new Client(config)
  await client.connect()
  const observations = {}
  try {
    for (const [name, scenario] of Object.entries(scenarios)) {
      try {
        observations[name] = await scenario(client)
      } catch (error) {
        observations[name] = { error: error.code, message: error.message }
      }
    }
  } finally {
    await client.end()
  }
  process.stdout.write(JSON.stringify(observations) + '\n')
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`)
  process.exit(1)
})
