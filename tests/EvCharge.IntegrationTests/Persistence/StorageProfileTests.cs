using EvCharge.Silo.Persistence;
using Npgsql;

namespace EvCharge.IntegrationTests.Persistence;

/// <summary>The PostgreSQL profile's Npgsql defaults (pure; no database needed).</summary>
public sealed class StorageProfileTests
{
    [Fact]
    public void Postgres_profile_adds_the_measured_Npgsql_defaults()
    {
        var cs = StorageProfile.Postgres("Host=127.0.0.1;Port=5432;Database=evcharge;Username=evcharge").EffectiveConnectionString;
        var b = new NpgsqlConnectionStringBuilder(cs);
        Assert.True(b.NoResetOnClose);
        Assert.Equal(64, b.MaxAutoPrepare);
        Assert.Equal(2, b.AutoPrepareMinUsages);
        Assert.Equal("evcharge", b.Database);
    }

    [Fact]
    public void An_operator_setting_in_the_connection_string_wins_over_the_default()
    {
        var cs = StorageProfile.Postgres("Host=db;Database=evcharge;No Reset On Close=false;MaxAutoPrepare=0").EffectiveConnectionString;
        var b = new NpgsqlConnectionStringBuilder(cs);
        Assert.False(b.NoResetOnClose);
        Assert.Equal(0, b.MaxAutoPrepare);
        Assert.Equal(2, b.AutoPrepareMinUsages);
    }
}
