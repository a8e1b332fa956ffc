using EvCharge.Driver;
using QRCoder;

namespace EvCharge.Silo.Driver;

/// <summary>
/// The QR code printed on a charger next to each connector: the URL of the connector's page (<c>/c/{chargerId}/{connectorId}</c>
/// under <see cref="DriverOptions.PublicBaseUrl"/>). Error correction level Q (25 %): a sticker outdoors gets scratched and dirty.
/// </summary>
public static class ConnectorQrCodes
{
    public static Uri PageUrl(Uri publicBase, string chargerId, int connectorId) =>
        new(publicBase, $"/c/{Uri.EscapeDataString(chargerId)}/{connectorId}");

    public static byte[] Png(Uri url, int pixelsPerModule)
    {
        using var data = Encode(url);
        return new PngByteQRCode(data).GetGraphic(pixelsPerModule);
    }

    public static string Svg(Uri url, int pixelsPerModule)
    {
        using var data = Encode(url);
        return new SvgQRCode(data).GetGraphic(pixelsPerModule);
    }

    private static QRCodeData Encode(Uri url)
    {
        using var generator = new QRCodeGenerator();
        return generator.CreateQrCode(url.AbsoluteUri, QRCodeGenerator.ECCLevel.Q);
    }
}
