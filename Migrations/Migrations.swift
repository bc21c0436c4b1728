/// The numbered SQL files of this folder, embedded into the binary at build time by the
/// `EmbedMigrations` plugin (which generates `Migrations.files`). Nothing is read at run time.
public enum Migrations {
    /// One migration: its file name (`0001_init.sql`), its number and its SQL text.
    public struct File: Sendable, Hashable {
        public let name: String
        public let version: Int
        public let sql: String

        public init(name: String, version: Int, sql: String) {
            self.name = name
            self.version = version
            self.sql = sql
        }
    }
}
