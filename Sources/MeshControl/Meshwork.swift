/// Facts about this build of Meshwork.
public enum Meshwork {
    /// The release version, printed by `meshctl --version` and `meshd --version`.
    public static let version = "0.1.0"
}
